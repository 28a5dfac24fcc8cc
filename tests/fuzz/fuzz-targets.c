/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Fuzz entry points for every parser of libcpns; shared by the libFuzzer
 * targets and the corpus replay test. */
#define G_LOG_DOMAIN "cpns-fuzz"

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cpns.h"
#include "cpns-message-private.h"

#include "fuzz-targets.h"

/* abort() rather than g_error(): libFuzzer turns SIGABRT into a crash
 * report with the input saved; g_error() ends in SIGTRAP. */
#define fuzz_fail(...) \
  G_STMT_START { g_printerr ("fuzz invariant broken: " __VA_ARGS__); g_printerr ("\n"); abort (); } G_STMT_END

typedef CpnsMessage *(*Decoder) (const char  *kind,
                                 const char  *data,
                                 gsize        len,
                                 GError     **error);

static CpnsMessage *
decode_frame (const char *kind, const char *data, gsize len, GError **error)
{
  return cpns_message_decode_frame (data, len, CPNS_MAX_MESSAGE_SIZE, error);
}

static CpnsMessage *
decode_datagram (const char *kind, const char *data, gsize len, GError **error)
{
  return cpns_message_decode_datagram (data, len, error);
}

static CpnsMessage *
decode_event (const char *kind, const char *data, gsize len, GError **error)
{
  return cpns_message_decode_event (data, len, error);
}

static CpnsMessage *
decode_body (const char *kind, const char *data, gsize len, GError **error)
{
  return cpns_message_decode_body (kind, data, len, error);
}

/* Every error a decoder reports is in CPNS_ERROR with a code of the
 * protocol and a message that starts with that code. */
static void
check_error (const GError *error)
{
  const char *name;

  if (error == NULL || error->domain != CPNS_ERROR)
    fuzz_fail ("decoder failed without a CPNS_ERROR");
  name = cpns_error_code_to_string (error->code);
  if (name == NULL || !g_str_has_prefix (error->message, name))
    fuzz_fail ("error message '%s' does not start with its code", error->message);
}

/* A decoded message encodes again (unless unknown fields grew past the
 * size limit when printed) and decodes to an equal object. */
static void
check_round_trip (CpnsMessage *msg,
                  Decoder      decode)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = cpns_message_encode (msg, &error);
  g_autoptr(CpnsMessage) again = NULL;
  g_autoptr(JsonNode) a = NULL;
  g_autoptr(JsonNode) b = NULL;
  g_autoptr(GError) carried = NULL;

  if (bytes == NULL)
    {
      if (g_error_matches (error, CPNS_ERROR, CPNS_ERROR_TOO_LARGE))
        return;
      fuzz_fail ("decoded %s does not encode: %s", cpns_message_get_kind (msg), error->message);
    }
  again = decode (cpns_message_get_kind (msg), g_bytes_get_data (bytes, NULL),
                  g_bytes_get_size (bytes), &error);
  if (again == NULL)
    fuzz_fail ("encoded %s does not decode: %s", cpns_message_get_kind (msg), error->message);
  if (strcmp (cpns_message_get_kind (again), cpns_message_get_kind (msg)) != 0)
    fuzz_fail ("kind changed in a round trip");
  a = json_node_init_object (json_node_alloc (), cpns_message_get_object (msg));
  b = json_node_init_object (json_node_alloc (), cpns_message_get_object (again));
  if (!json_node_equal (a, b))
    fuzz_fail ("%s changed in a round trip", cpns_message_get_kind (msg));

  /* The error helpers accept whatever decoded. */
  carried = cpns_message_to_error (msg);
  if (carried != NULL)
    {
      g_autoptr(CpnsMessage) frame = cpns_message_new_error (carried);
      g_autoptr(GBytes) body = cpns_http_error_body (carried);
      g_autoptr(GBytes) encoded = cpns_message_encode (frame, &error);

      if (encoded == NULL || body == NULL)
        fuzz_fail ("an error frame built from a decoded error does not encode");
    }
}

static void
decode_and_check (Decoder     decode,
                  const char *kind,
                  const char *data,
                  gsize       len)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsMessage) msg = decode (kind, data, len, &error);

  if (msg == NULL)
    check_error (error);
  else
    check_round_trip (msg, decode);
}

void
cpns_fuzz_frame (const guint8 *data,
                 gsize         size)
{
  g_autoptr(CpnsFrameReader) reader = NULL;
  guint8 control;
  gsize max_body;
  gsize piece;
  gsize offset = 1;

  if (size < 1)
    return;
  control = data[0];
  max_body = (control & 0x80) ? CPNS_MAX_PREAUTH_SIZE : CPNS_MAX_MESSAGE_SIZE;
  piece = control & 0x3f;

  if (control & 0x40)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(CpnsMessage) msg = cpns_message_decode_frame ((const char *) data + 1, size - 1,
                                                              max_body, &error);

      if (msg == NULL)
        check_error (error);
      else
        check_round_trip (msg, decode_frame);
      return;
    }

  reader = cpns_frame_reader_new (max_body);
  while (offset < size)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) body = NULL;
      gsize len = piece == 0 ? size - offset : MIN (piece, size - offset);
      gsize consumed = 0;

      if (!cpns_frame_reader_feed (reader, data + offset, len, &consumed, &error))
        {
          if (!g_error_matches (error, CPNS_ERROR, CPNS_ERROR_TOO_LARGE))
            fuzz_fail ("frame reader failed with something other than too_large");
          break;
        }
      if (consumed > len)
        fuzz_fail ("frame reader consumed more than it was given");
      offset += consumed;
      body = cpns_frame_reader_pop (reader);
      if (body != NULL)
        {
          g_autoptr(CpnsMessage) msg = NULL;

          if (g_bytes_get_size (body) == 0 || g_bytes_get_size (body) > max_body)
            fuzz_fail ("frame of %" G_GSIZE_FORMAT " bytes passed the reader",
                     g_bytes_get_size (body));
          msg = cpns_message_decode_frame (g_bytes_get_data (body, NULL),
                                           g_bytes_get_size (body), max_body, &error);
          if (msg == NULL)
            check_error (error);
          else
            check_round_trip (msg, decode_frame);
        }
      else if (consumed == 0)
        fuzz_fail ("frame reader made no progress");
    }
}

void
cpns_fuzz_datagram (const guint8 *data,
                    gsize         size)
{
  decode_and_check (decode_datagram, NULL, (const char *) data, size);
}

void
cpns_fuzz_event (const guint8 *data,
                 gsize         size)
{
  decode_and_check (decode_event, NULL, (const char *) data, size);
}

void
cpns_fuzz_body (const guint8 *data,
                gsize         size)
{
  static const CpnsSchema *bodies[64];
  static gsize n_bodies;

  if (n_bodies == 0)
    {
      gsize n;
      const CpnsSchema *all = cpns_schema_all (&n);

      for (gsize i = 0; i < n && n_bodies < G_N_ELEMENTS (bodies); i++)
        if (all[i].klass == CPNS_SCHEMA_BODY)
          bodies[n_bodies++] = &all[i];
    }
  if (size < 1)
    return;
  decode_and_check (decode_body, bodies[data[0] % n_bodies]->kind,
                    (const char *) data + 1, size - 1);
}

void
cpns_fuzz_invitation (const guint8 *data,
                      gsize         size)
{
  g_autofree char *text = g_strndup ((const char *) data, size);
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsInvitation) inv = cpns_invitation_parse (text, &error);
  g_autoptr(CpnsInvitation) again = NULL;
  g_autofree char *uri = NULL;

  if (inv == NULL)
    {
      if (!g_error_matches (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST))
        fuzz_fail ("invitation failed without bad_request");
      return;
    }
  uri = cpns_invitation_to_uri (inv);
  again = cpns_invitation_parse (uri, &error);
  if (again == NULL)
    fuzz_fail ("printed invitation does not parse: %s", error->message);
  if (g_strcmp0 (inv->server_url, again->server_url) != 0 ||
      g_strcmp0 (inv->user_id, again->user_id) != 0 ||
      g_strcmp0 (inv->code, again->code) != 0 ||
      g_strcmp0 (inv->pin_sha256, again->pin_sha256) != 0)
    fuzz_fail ("invitation changed in a round trip");
}

static const CpnsFuzzTarget targets[] = {
  { "frame", cpns_fuzz_frame },
  { "datagram", cpns_fuzz_datagram },
  { "body", cpns_fuzz_body },
  { "event", cpns_fuzz_event },
  { "invitation", cpns_fuzz_invitation },
};

const CpnsFuzzTarget *
cpns_fuzz_targets (gsize *n_targets)
{
  *n_targets = G_N_ELEMENTS (targets);
  return targets;
}

CpnsFuzzFunc
cpns_fuzz_lookup (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (targets); i++)
    if (g_strcmp0 (targets[i].name, name) == 0)
      return targets[i].func;
  return NULL;
}
