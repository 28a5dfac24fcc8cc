/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * An in-process fake PN gateway (and CPNS server) built from libcpns, for
 * the PNE state machine tests: the GW side of CPNS-1 on 127.0.0.1 with its
 * own certificate, answering as PROTOCOL.md §4 says unless told to
 * misbehave, and recording what the PNE sent.
 */
typedef enum
{
  FAKE_BAD_COMMITMENT        = 1 << 0,  /* reveal an n_g that is not the committed one */
  FAKE_SKIP_PAIRING_COMPLETE = 1 << 1,  /* close after key_assignment_response */
  FAKE_WRONG_SERVER_PROOF    = 1 << 2,
  FAKE_WRONG_ACK_MAC         = 1 << 3,
  FAKE_ASK                   = 1 << 4,  /* authorization_pending, then allow */
  FAKE_DENY                  = 1 << 5,
  FAKE_SILENT                = 1 << 6,  /* read, never answer */
  FAKE_REJECT_CREDENTIALS    = 1 << 7,  /* credentials_accepted: false */
  FAKE_WRONG_CERT_IN_RESPONSE = 1 << 8, /* pairing_response names another cert */
  FAKE_CLOSE_AFTER_KEY       = 1 << 9,  /* close right after key_assignment_request */
  FAKE_ASK_FOREVER           = 1 << 10, /* authorization_pending, then nothing */
} FakeFlags;

typedef struct
{
  /* what the fake saw and computed */
  GPtrArray *received;        /* "kind" or "error:code", in order, all connections */
  guint      n_accepted;      /* TCP connections */
  guint      n_handshakes;    /* successful TLS handshakes */
  guint      n_psk;           /* of which PSK */
  char      *code;            /* the last pairing code the GW side derived, "123 456" */
  gboolean   key_confirm_ok;
  gboolean   pne_proof_ok;
  gboolean   pne_confirm_ok;
  gboolean   has_credentials_seen;
  char      *last_pne_id;
} FakeRecord;

typedef struct _FakeGateway FakeGateway;

FakeGateway      *fake_gateway_new              (void);
void              fake_gateway_free             (FakeGateway *fake);
const char       *fake_gateway_get_address      (FakeGateway *fake);
const char       *fake_gateway_get_cert_sha256  (FakeGateway *fake);
const char       *fake_gateway_get_gateway_id   (FakeGateway *fake);
void              fake_gateway_set_flags        (FakeGateway *fake,
                                                 FakeFlags    flags);
FakeRecord       *fake_gateway_get_record       (FakeGateway *fake);
/* Drop all sessions: a PSK for them then fails the handshake. */
void              fake_gateway_forget_sessions  (FakeGateway *fake);
/* Forget every entity's key: the "server" no longer knows them. */
void              fake_gateway_forget_entities  (FakeGateway *fake);
/* Send error "revoked" on every connected channel and close it. */
void              fake_gateway_revoke_all       (FakeGateway *fake);
/* Send "bye" on every connected channel and close it. */
void              fake_gateway_bye_all          (FakeGateway *fake);
/* Close every connected channel without a word (a crash, a lost network). */
void              fake_gateway_drop_all         (FakeGateway *fake);
guint             fake_gateway_count_connected  (FakeGateway *fake);
/* Opens a discovery socket on 127.0.0.1 that answers PNE requests with
 * pairing_open true; returns "127.0.0.1:PORT". */
const char       *fake_gateway_start_discovery  (FakeGateway *fake);
/* Open (default): answer PNE requests with pairing_open true. Closed:
 * send the PNE a gateway request with pairing_open false instead. */
void              fake_gateway_set_discovery_open (FakeGateway *fake,
                                                 gboolean     open);
/* TRUE if the record has @kind. */
gboolean          fake_record_has               (FakeRecord  *record,
                                                 const char  *kind);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FakeGateway, fake_gateway_free)

G_END_DECLS
