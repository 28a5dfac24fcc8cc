/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

#include "cpns-ids.h"

G_BEGIN_DECLS

/*
 * The table-driven schema behind CpnsMessage. Every message kind of
 * cpns-message.h has one CpnsSchema: a list of CpnsField rules, plus an
 * optional check for rules that involve several fields (a field required
 * only when another has some value).
 */
typedef enum
{
  CPNS_FIELD_STRING,          /* min..max bytes (max 0 = CPNS_MAX_STRING_BYTES) */
  CPNS_FIELD_TEXT,            /* min..max Unicode code points */
  CPNS_FIELD_ID,              /* cpns_id_is_valid (id_kind) */
  CPNS_FIELD_USER_ID,         /* cpns_user_id_is_valid */
  CPNS_FIELD_BYTES,           /* base64url of exactly max bytes */
  CPNS_FIELD_BOOL,
  CPNS_FIELD_INT,             /* min..max */
  CPNS_FIELD_TIME,            /* RFC 3339 */
  CPNS_FIELD_ENUM,            /* one of values */
  CPNS_FIELD_SHA256_HEX,      /* 64 lowercase hex digits */
  CPNS_FIELD_ERROR_CODE,      /* a §2 code */
  CPNS_FIELD_ENROLLMENT_CODE, /* XXXX-XXXX-XXXX-XXXX, base32 */
  CPNS_FIELD_NAMES,           /* array of at most max service names */
  CPNS_FIELD_OBJECT,          /* nested schema */
  CPNS_FIELD_OBJECTS,         /* array of at most max nested objects */
} CpnsFieldType;

typedef enum
{
  CPNS_FIELD_REQUIRED = 1 << 0,
  CPNS_FIELD_SECRET   = 1 << 1,
  CPNS_FIELD_NULLABLE = 1 << 2, /* JSON null counts as absent */
} CpnsFieldFlags;

typedef struct _CpnsSchema CpnsSchema;

typedef struct
{
  const char *name;
  CpnsFieldType type;
  CpnsFieldFlags flags;
  gint64 min;
  gint64 max;
  CpnsIdKind id_kind;
  const char * const *values;
  const CpnsSchema *schema;
} CpnsField;

typedef enum
{
  CPNS_SCHEMA_FRAME,    /* CPNS-1 frame: "v" and "type" */
  CPNS_SCHEMA_DATAGRAM, /* CPNS-1 discovery datagram: "v" and "type" */
  CPNS_SCHEMA_BODY,     /* CPNS-2 body */
  CPNS_SCHEMA_EVENT,    /* CPNS-2 WebSocket event: "type" */
  CPNS_SCHEMA_NESTED,   /* part of another message */
} CpnsSchemaClass;

typedef gboolean (*CpnsSchemaCheck) (JsonObject  *object,
                                     const char  *prefix,
                                     GError     **error);

struct _CpnsSchema
{
  const char *kind;
  CpnsSchemaClass klass;
  const char *type;          /* the wire "type", frames/datagrams/events */
  const CpnsField *fields;   /* terminated by a field with a NULL name */
  CpnsSchemaCheck check;     /* or NULL */
};

const CpnsSchema *cpns_schema_lookup        (const char        *kind);
const CpnsSchema *cpns_schema_lookup_type   (CpnsSchemaClass    klass,
                                             const char        *type);
const CpnsSchema *cpns_schema_entity_descriptor (void);
/* The array of all message schemas (not the nested ones). */
const CpnsSchema *cpns_schema_all           (gsize             *n_schemas);

gboolean          cpns_schema_validate      (const CpnsSchema  *schema,
                                             JsonObject        *object,
                                             const char        *prefix,
                                             GError           **error);

/* "prefix.name" or "name" */
char             *cpns_field_path           (const char        *prefix,
                                             const char        *name);
gboolean          cpns_time_is_valid        (const char        *text);
gboolean          cpns_enrollment_code_is_valid (const char    *text);

/* A copy of a scalar or shallow copy of a container node whose string, if
 * any, is not shared with @node (json_node_copy() shares it). */
JsonNode         *cpns_json_node_copy_value (JsonNode          *node);

/* A copy of @object holding only the members the schema knows, recursively
 * ("v" and "type" too when @keep_header). Scalars are copied, so wipe the
 * secrets of @object before dropping it. */
JsonObject       *cpns_schema_known_members (const CpnsSchema  *schema,
                                             JsonObject        *object,
                                             gboolean           keep_header);

/* json-glib's parse of @text (NUL-terminated, @len bytes before the NUL)
 * that also refuses an object with a repeated key, at any depth: NULL and
 * BAD_REQUEST "duplicate key \"name\"" (or "malformed JSON"). Run
 * cpns_json_check_limits() first. */
JsonParser       *cpns_json_parse_unique    (const char        *text,
                                             gsize              len,
                                             GError           **error);

/* Wipes every string value held under a secret field name, recursively. */
void              cpns_json_wipe_secrets    (JsonObject        *object);
gboolean          cpns_field_name_is_secret (const char        *name);

G_END_DECLS
