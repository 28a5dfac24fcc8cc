/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Writes the seed corpus of every fuzz target (tests/fuzz/corpus/<target>/):
 * a valid message of every kind plus tricky inputs. Run from the source
 * root: `fuzz-make-corpus tests/fuzz/corpus`. Not part of any test. */
#include "config.h"

#include <string.h>

#include "cpns.h"
#include "cpns-message-private.h"

#include "../libcpns/message-samples.h"

static const char *out_dir;

static void
write_seed (const char   *target,
            const char   *name,
            const guint8 *data,
            gsize         len)
{
  g_autofree char *dir = g_build_filename (out_dir, target, NULL);
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr(GError) error = NULL;

  g_mkdir_with_parents (dir, 0755);
  if (!g_file_set_contents (path, (const char *) data, len, &error))
    g_error ("%s", error->message);
}

static void
write_text (const char *target,
            const char *name,
            const char *text)
{
  write_seed (target, name, (const guint8 *) text, strlen (text));
}

/* Frame target input: control byte then length-prefixed bodies. */
static void
write_frames (const char  *name,
              guint8       control,
              const char * const *bodies,
              guint        n)
{
  g_autoptr(GByteArray) seed = g_byte_array_new ();

  g_byte_array_append (seed, &control, 1);
  for (guint i = 0; i < n; i++)
    {
      gsize len = strlen (bodies[i]);
      guint8 header[4] = { len >> 24, len >> 16, len >> 8, len };

      g_byte_array_append (seed, header, 4);
      g_byte_array_append (seed, (const guint8 *) bodies[i], len);
    }
  write_seed ("frame", name, seed->data, seed->len);
}

static void
write_raw_frame (const char *name,
                 guint8      control,
                 const char *body)
{
  g_autoptr(GByteArray) seed = g_byte_array_new ();

  g_byte_array_append (seed, &control, 1);
  g_byte_array_append (seed, (const guint8 *) body, strlen (body));
  write_seed ("frame", name, seed->data, seed->len);
}

static char *
nested (guint depth)
{
  GString *s = g_string_new ("{\"v\":1,\"type\":\"ping\",\"x\":");

  for (guint i = 0; i < depth; i++)
    g_string_append_c (s, '[');
  for (guint i = 0; i < depth; i++)
    g_string_append_c (s, ']');
  g_string_append_c (s, '}');
  return g_string_free (s, FALSE);
}

int
main (int   argc,
      char *argv[])
{
  gsize n;
  const CpnsSchema *schemas = cpns_schema_all (&n);
  guint body_index = 0;

  if (argc != 2)
    g_error ("usage: %s OUT-DIR", argv[0]);
  out_dir = argv[1];

  for (gsize i = 0; i < G_N_ELEMENTS (message_samples); i++)
    {
      const MessageSample *s = &message_samples[i];
      const CpnsSchema *schema = cpns_schema_lookup (s->kind);

      switch (schema->klass)
        {
        case CPNS_SCHEMA_FRAME:
          write_frames (s->kind, 0x00, &s->json, 1);
          break;
        case CPNS_SCHEMA_DATAGRAM:
          write_text ("datagram", s->kind, s->json);
          break;
        case CPNS_SCHEMA_EVENT:
          write_text ("event", s->kind, s->json);
          break;
        case CPNS_SCHEMA_BODY:
          {
            g_autoptr(GByteArray) seed = g_byte_array_new ();
            guint8 index = 0;

            /* The index the body target maps to this kind. */
            for (gsize j = 0, k = 0; j < n; j++)
              if (schemas[j].klass == CPNS_SCHEMA_BODY)
                {
                  if (strcmp (schemas[j].kind, s->kind) == 0)
                    index = (guint8) k;
                  k++;
                }
            g_byte_array_append (seed, &index, 1);
            g_byte_array_append (seed, (const guint8 *) s->json, strlen (s->json));
            write_seed ("body", s->kind, seed->data, seed->len);
            body_index++;
          }
          break;
        case CPNS_SCHEMA_NESTED:
        default:
          g_assert_not_reached ();
        }
    }

  /* Frames: several per input, split feeds, raw bodies, bad lengths. */
  {
    const char *three[] = {
      "{\"v\":1,\"type\":\"ping\"}", "{\"v\":1,\"type\":\"pong\"}",
      "{\"v\":1,\"type\":\"bye\",\"reason\":\"\\\"[{\\u005b\"}"
    };
    const guint8 zero[] = { 0x00, 0, 0, 0, 0, '{', '}' };
    const guint8 huge[] = { 0x00, 0xff, 0xff, 0xff, 0xff, '{' };
    const guint8 over_preauth[] = { 0x80, 0, 0, 0x20, 0x01, '{' };
    g_autofree char *deep16 = nested (15);
    g_autofree char *deep17 = nested (16);

    write_frames ("three-frames", 0x00, three, 3);
    write_frames ("three-frames-1-byte-pieces", 0x01, three, 3);
    write_frames ("three-frames-7-byte-pieces-preauth", 0x87, three, 3);
    write_seed ("frame", "zero-length", zero, sizeof zero);
    write_seed ("frame", "huge-length", huge, sizeof huge);
    write_seed ("frame", "over-preauth", over_preauth, sizeof over_preauth);
    write_raw_frame ("raw-ping", 0x40, "{\"v\":1,\"type\":\"ping\"}");
    write_raw_frame ("raw-depth-16", 0x40, deep16);
    write_raw_frame ("raw-depth-17", 0x40, deep17);
    write_raw_frame ("raw-unknown-type", 0x40, "{\"v\":1,\"type\":\"teleport\"}");
    write_raw_frame ("raw-version-2", 0x40, "{\"v\":2,\"type\":\"ping\"}");
    write_raw_frame ("raw-version-string", 0x40, "{\"v\":\"1\",\"type\":\"ping\"}");
    write_raw_frame ("raw-comment", 0x40, "{\"v\":1,/*\"*/\"type\":\"ping\"}");
    write_raw_frame ("raw-unknown-fields", 0x40,
                     "{\"v\":1,\"type\":\"ping\",\"x\":[1.5e300,-0,true,null,{\"a\":\"\\u00e9\"}]}");
    write_raw_frame ("raw-nested-error", 0x40,
                     "{\"v\":1,\"type\":\"pairing_request\",\"has_credentials\":true,\"entity\":"
                     "{\"name\":\"\",\"entity_type\":\"sensor\",\"services\":[{\"name\":1}]}}");
    write_raw_frame ("raw-escapes", 0x40,
                     "{\"v\":1,\"type\":\"bye\",\"reason\":\"\\\\\\\"\\/\\b\\f\\n\\r\\t\\ud83d\\ude00\\u0000\"}");
  }

  /* Datagrams, events, bodies: a few tricky ones. */
  write_text ("datagram", "pne-missing-nonce",
              "{\"v\":1,\"type\":\"entity_discovery_request\",\"mode\":\"pne\",\"name\":\"x\","
              "\"entity_type\":\"sensor\"}");
  write_text ("datagram", "frame-type", "{\"v\":1,\"type\":\"ping\"}");
  write_text ("event", "unknown", "{\"type\":\"teleported\"}");
  write_text ("event", "no-type", "{\"revision\":1}");
  {
    guint8 seed[] = "\x00[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[";
    write_seed ("body", "deep-array", seed, sizeof seed - 1);
  }

  /* Invitations. */
  write_text ("invitation", "full",
              "cpns://enroll?server=https%3A%2F%2Fhost%3A7443&user=alice&code=ABCD-EFGH-2345-67QR"
              "&pin=sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
  write_text ("invitation", "no-pin",
              "cpns://enroll?server=https://[::1]:7443/&user=bob.smith_2&code=abcd-efgh-2345-67qr");
  write_text ("invitation", "bad-escape", "cpns://enroll?server=%ZZ&user=a&code=ABCD-EFGH-2345-67QR");
  write_text ("invitation", "duplicate",
              "cpns://enroll?user=a&user=b&server=https://h&code=ABCD-EFGH-2345-67QR");
  write_text ("invitation", "userinfo",
              "cpns://enroll?server=https%3A%2F%2Fu%3Ap%40host&user=a&code=ABCD-EFGH-2345-67QR");

  g_print ("wrote %u body seeds and the rest to %s\n", body_index, out_dir);
  return 0;
}
