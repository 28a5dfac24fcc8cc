/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Size limits of PROTOCOL.md §2 and §4. */
#define CPNS_MAX_MESSAGE_SIZE   65536
#define CPNS_MAX_PREAUTH_SIZE   8192
#define CPNS_MAX_DATAGRAM_SIZE  1200
#define CPNS_MAX_DEPTH          16
#define CPNS_MAX_STRING_BYTES   1024

/*
 * CpnsMessage: one validated protocol message, a JSON object plus the name
 * of the schema it follows. Immutable once decoded; refcounted.
 *
 * Schema names
 *   CPNS-1 frames (have "v":1 and "type"; the name is the type):
 *     error ping pong bye
 *     pairing_request pairing_commit pairing_nonce pairing_reveal
 *     pairing_response pne_id_request pne_id_response
 *     key_assignment_request key_assignment_response pairing_complete
 *     connection_setup_request auth_challenge auth_response
 *     authorization_pending authorization_result session_key_confirm
 *     session_key_confirm_ack connection_setup_complete session_resume_request
 *   CPNS-1 discovery datagrams (§4.2, have "v" and "type"):
 *     entity_discovery_request entity_discovery_response
 *   CPNS-2 bodies (§5; no "v"/"type"; the endpoint picks the schema):
 *     api.gateways.request            api.gateways.response
 *     api.session_challenge.request   api.session_challenge.response
 *     api.session.request             api.session.response
 *     api.entities.request            api.entities.response   (also rekey)
 *     api.rekey.request
 *     api.key_confirm.request         api.key_confirm.response
 *     api.auth.request                api.auth.response
 *     api.verify.request              api.decision.request
 *     api.auth_result                 (answer of verify and decision)
 *     api.inventory.response          api.inventory_put.request
 *     api.inventory_put.response      api.policy   (GET answer, PUT body)
 *     api.error                       api.healthz
 *   CPNS-2 WebSocket events (§5.7; have "type", no "v"):
 *     event.entity_revoked event.inventory_changed event.policy_changed
 *     event.session_expiring
 *
 * Nested objects (entity descriptor, service, inventory entity, policy
 * rule) are validated as part of the message that holds them.
 *
 * Errors are CPNS_ERROR codes; the message names the field, e.g.
 * "bad_request: field 'nonce_p' must be 16 bytes of base64url".
 *
 * Secret fields (euk, gateway_secret, session_key, session_token,
 * enrollment_code) are zeroed in place when the last reference to the
 * message goes, even if their JsonObject is still referenced elsewhere:
 * copy out what must outlive the message.
 */
typedef struct _CpnsMessage CpnsMessage;

#define CPNS_TYPE_MESSAGE (cpns_message_get_type ())
GType          cpns_message_get_type      (void) G_GNUC_CONST;

/* A new, empty message of schema @kind (frames and events get "v"/"type"
 * filled in by encode). Setters are only for messages built locally. */
CpnsMessage   *cpns_message_new           (const char   *kind);
CpnsMessage   *cpns_message_ref           (CpnsMessage  *msg);
void           cpns_message_unref         (CpnsMessage  *msg);

const char    *cpns_message_get_kind      (CpnsMessage  *msg);
/* The underlying object (owned by @msg). */
JsonObject    *cpns_message_get_object    (CpnsMessage  *msg);

void           cpns_message_set_string    (CpnsMessage  *msg,
                                           const char   *field,
                                           const char   *value);
void           cpns_message_set_int       (CpnsMessage  *msg,
                                           const char   *field,
                                           gint64        value);
void           cpns_message_set_bool      (CpnsMessage  *msg,
                                           const char   *field,
                                           gboolean      value);
/* Stored as base64url. */
void           cpns_message_set_bytes     (CpnsMessage  *msg,
                                           const char   *field,
                                           const guint8 *data,
                                           gsize         len);
/* RFC 3339 UTC, seconds precision. */
void           cpns_message_set_time      (CpnsMessage  *msg,
                                           const char   *field,
                                           GDateTime    *time);
/* Takes a reference / a copy. */
void           cpns_message_set_object    (CpnsMessage  *msg,
                                           const char   *field,
                                           JsonObject   *object);
void           cpns_message_set_array     (CpnsMessage  *msg,
                                           const char   *field,
                                           JsonArray    *array);
void           cpns_message_set_strv      (CpnsMessage  *msg,
                                           const char   *field,
                                           const char * const *strv);

gboolean       cpns_message_has           (CpnsMessage  *msg,
                                           const char   *field);
/* NULL / 0 / FALSE when absent (decode already checked required ones). */
const char    *cpns_message_get_string    (CpnsMessage  *msg,
                                           const char   *field);
gint64         cpns_message_get_int       (CpnsMessage  *msg,
                                           const char   *field);
gboolean       cpns_message_get_bool      (CpnsMessage  *msg,
                                           const char   *field);
/* Decodes a base64url field into exactly @len bytes; FALSE if absent or
 * of another length. */
gboolean       cpns_message_get_bytes     (CpnsMessage  *msg,
                                           const char   *field,
                                           guint8       *out,
                                           gsize         len);
/* NULL if absent or not an RFC 3339 time. */
GDateTime     *cpns_message_dup_time      (CpnsMessage  *msg,
                                           const char   *field);
JsonObject    *cpns_message_get_json_object (CpnsMessage *msg,
                                           const char   *field);
JsonArray     *cpns_message_get_json_array  (CpnsMessage *msg,
                                           const char   *field);
/* A list of strings (e.g. granted_services); NULL if absent. */
char         **cpns_message_dup_strv      (CpnsMessage  *msg,
                                           const char   *field);

/* Validate against the schema and serialise (compact JSON, UTF-8). */
GBytes        *cpns_message_encode        (CpnsMessage  *msg,
                                           GError      **error);

/* Size and nesting check of §2 by a byte scan, before any parser sees
 * @data: over @max_size → TOO_LARGE; deeper than CPNS_MAX_DEPTH →
 * BAD_REQUEST. Strings and escapes are honoured. */
gboolean       cpns_json_check_limits     (const char   *data,
                                           gsize         len,
                                           gsize         max_size,
                                           GError      **error);

/* A CPNS-1 frame body: limits (max_size = CPNS_MAX_MESSAGE_SIZE or
 * CPNS_MAX_PREAUTH_SIZE), JSON, "v" (missing → BAD_REQUEST, ≠1 →
 * UNSUPPORTED_VERSION), "type" (unknown → UNKNOWN_TYPE; a datagram type
 * here is UNKNOWN_TYPE too), then every field of the schema. */
CpnsMessage   *cpns_message_decode_frame  (const char   *data,
                                           gsize         len,
                                           gsize         max_size,
                                           GError      **error);
/* A discovery datagram (≤ CPNS_MAX_DATAGRAM_SIZE). */
CpnsMessage   *cpns_message_decode_datagram (const char *data,
                                           gsize         len,
                                           GError      **error);
/* A CPNS-2 body of schema @kind ("api.…"). */
CpnsMessage   *cpns_message_decode_body   (const char   *kind,
                                           const char   *data,
                                           gsize         len,
                                           GError      **error);
/* A server event ("event.…" chosen by its "type"). */
CpnsMessage   *cpns_message_decode_event  (const char   *data,
                                           gsize         len,
                                           GError      **error);

/* Helpers for the two error shapes of §2. */
CpnsMessage   *cpns_message_new_error     (const GError *error);   /* CPNS-1 "error" frame */
GBytes        *cpns_http_error_body       (const GError *error);   /* {"error":{…}} */
/* The same with "retry_after" (seconds; locked_out) when @retry_after ≥ 0.
 * On a CPNS-1 "error" frame, set it with cpns_message_set_int(). */
GBytes        *cpns_http_error_body_with_retry (const GError *error,
                                           gint64        retry_after);
/* The GError carried by an "error" frame or an api.error body. */
GError        *cpns_message_to_error      (CpnsMessage  *msg);

/* Validate a standalone entity descriptor (§4.4 item 1). */
gboolean       cpns_entity_descriptor_validate (JsonObject *entity,
                                           const char   *field_prefix,
                                           GError      **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CpnsMessage, cpns_message_unref)

G_END_DECLS
