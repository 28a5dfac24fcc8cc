/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Size and nesting limits of PROTOCOL.md §2, enforced before json-glib
 * parses anything. */
#include "config.h"

#include <string.h>

#include "cpns.h"
#include "cpns-message-private.h"

static void
assert_limits_error (const char   *data,
                     gsize         len,
                     gsize         max_size,
                     CpnsErrorCode code)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (cpns_json_check_limits (data, len, max_size, &error));
  g_assert_error (error, CPNS_ERROR, (gint) code);
}

static void
assert_limits_ok (const char *data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (cpns_json_check_limits (data, strlen (data), CPNS_MAX_MESSAGE_SIZE, &error));
  g_assert_no_error (error);
}

/* A frame of exactly @len bytes: {"v":1,"type":"bye","reason":"xxx…"} */
static GString *
frame_of_size (gsize len)
{
  GString *s = g_string_new ("{\"v\":1,\"type\":\"bye\",\"reason\":\"");

  while (s->len < len - 2)
    g_string_append_c (s, 'x');
  g_string_append (s, "\"}");
  g_assert_cmpuint (s->len, ==, len);
  return s;
}

static void
test_too_large (void)
{
  GString *big = g_string_new ("{\"a\":\"");
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsMessage) msg = NULL;

  while (big->len < CPNS_MAX_MESSAGE_SIZE - 1)
    g_string_append_c (big, 'x');
  g_string_append (big, "\"}");
  g_assert_cmpuint (big->len, ==, CPNS_MAX_MESSAGE_SIZE + 1);

  assert_limits_error (big->str, big->len, CPNS_MAX_MESSAGE_SIZE, CPNS_ERROR_TOO_LARGE);

  msg = cpns_message_decode_frame (big->str, big->len, CPNS_MAX_MESSAGE_SIZE, &error);
  g_assert_null (msg);
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_TOO_LARGE);
  g_assert_true (g_str_has_prefix (error->message, "too_large:"));
  g_clear_error (&error);
  msg = cpns_message_decode_body ("api.healthz", big->str, big->len, &error);
  g_assert_null (msg);
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_TOO_LARGE);
  g_clear_error (&error);
  msg = cpns_message_decode_event (big->str, big->len, &error);
  g_assert_null (msg);
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_TOO_LARGE);
  g_string_free (big, TRUE);
}

static void
test_exact_limit (void)
{
  GString *s = frame_of_size (CPNS_MAX_MESSAGE_SIZE);
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsMessage) msg = NULL;

  /* 65,536 bytes is allowed by the size rule, then the 1,024-byte string
   * rule of "reason" applies. */
  msg = cpns_message_decode_frame (s->str, s->len, CPNS_MAX_MESSAGE_SIZE, &error);
  g_assert_null (msg);
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST);
  g_assert_cmpstr (error->message, ==, "bad_request: field 'reason' is longer than 1024 bytes");
  g_string_free (s, TRUE);
}

static void
test_preauth_limit (void)
{
  GString *s = g_string_new ("{\"v\":1,\"type\":\"ping\",\"pad\":\"");
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsMessage) msg = NULL;

  while (s->len < CPNS_MAX_PREAUTH_SIZE - 2)
    g_string_append_c (s, 'p');
  g_string_append (s, "\"}");
  g_assert_cmpuint (s->len, ==, CPNS_MAX_PREAUTH_SIZE);

  msg = cpns_message_decode_frame (s->str, s->len, CPNS_MAX_PREAUTH_SIZE, &error);
  g_assert_no_error (error);
  g_assert_nonnull (msg);
  g_clear_pointer (&msg, cpns_message_unref);

  g_string_insert_c (s, s->len - 2, 'p');
  msg = cpns_message_decode_frame (s->str, s->len, CPNS_MAX_PREAUTH_SIZE, &error);
  g_assert_null (msg);
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_TOO_LARGE);
  g_clear_error (&error);

  /* The same frame is fine after authentication. */
  msg = cpns_message_decode_frame (s->str, s->len, CPNS_MAX_MESSAGE_SIZE, &error);
  g_assert_no_error (error);
  g_assert_nonnull (msg);
  g_string_free (s, TRUE);
}

static char *
nested (guint        depth,
        const char  *open,
        const char  *inner,
        const char  *close)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < depth; i++)
    g_string_append (s, open);
  g_string_append (s, inner);
  for (guint i = 0; i < depth; i++)
    g_string_append (s, close);
  return g_string_free (s, FALSE);
}

static void
test_depth (void)
{
  /* The top-level object is level 1: 16 levels pass, 17 do not. */
  g_autofree char *inner15 = nested (15, "[", "1", "]");
  g_autofree char *inner16 = nested (16, "[", "1", "]");
  g_autofree char *ok = g_strdup_printf ("{\"v\":1,\"type\":\"ping\",\"x\":%s}", inner15);
  g_autofree char *deep = g_strdup_printf ("{\"v\":1,\"type\":\"ping\",\"x\":%s}", inner16);
  g_autofree char *objects16 = nested (16, "{\"a\":", "1", "}");
  g_autofree char *objects17 = nested (17, "{\"a\":", "1", "}");
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsMessage) msg = NULL;

  msg = cpns_message_decode_frame (ok, strlen (ok), CPNS_MAX_MESSAGE_SIZE, &error);
  g_assert_no_error (error);
  g_assert_nonnull (msg);

  g_assert_null (cpns_message_decode_frame (deep, strlen (deep), CPNS_MAX_MESSAGE_SIZE, &error));
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST);
  g_assert_cmpstr (error->message, ==, "bad_request: JSON nested deeper than 16 levels");
  g_clear_error (&error);

  assert_limits_ok (objects16);
  assert_limits_error (objects17, strlen (objects17), CPNS_MAX_MESSAGE_SIZE,
                       CPNS_ERROR_BAD_REQUEST);
  /* Depth is current nesting, not the number of brackets. */
  {
    GString *wide = g_string_new ("{\"a\":[");

    for (guint i = 0; i < 2000; i++)
      g_string_append (wide, "[[[[[[[[[[[[[[1]]]]]]]]]]]]]],");
    g_string_append (wide, "1]}");
    assert_limits_ok (wide->str);
    g_string_free (wide, TRUE);
  }
}

static void
test_very_deep (void)
{
  const char *units[] = { "[", "{\"a\":", "{\"a\":[" };

  for (guint u = 0; u < G_N_ELEMENTS (units); u++)
    {
      GString *s = g_string_new (NULL);
      g_autoptr(GError) error = NULL;
      gint64 start;
      CpnsMessage *msg;

      while (s->len < 100000 * strlen (units[u]))
        g_string_append (s, units[u]);

      start = g_get_monotonic_time ();
      /* Within the size limit so the depth scan decides. */
      msg = cpns_message_decode_frame (s->str, MIN (s->len, CPNS_MAX_MESSAGE_SIZE),
                                       CPNS_MAX_MESSAGE_SIZE, &error);
      g_assert_null (msg);
      g_assert_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST);
      g_clear_error (&error);
      /* And the full 100,000 levels: over the size limit. */
      msg = cpns_message_decode_frame (s->str, s->len, CPNS_MAX_MESSAGE_SIZE, &error);
      g_assert_null (msg);
      g_assert_error (error, CPNS_ERROR, CPNS_ERROR_TOO_LARGE);
      g_clear_error (&error);
      /* Without the size limit the scan still stops at level 17. */
      g_assert_false (cpns_json_check_limits (s->str, s->len, G_MAXSIZE, &error));
      g_assert_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST);
      g_test_message ("%s x %" G_GSIZE_FORMAT ": rejected in %" G_GINT64_FORMAT " us",
                      units[u], s->len / strlen (units[u]), g_get_monotonic_time () - start);
      g_string_free (s, TRUE);
    }
}

static void
test_strings_and_escapes (void)
{
  g_autofree char *brackets = g_strnfill (100, '[');
  g_autofree char *in_string = g_strdup_printf ("{\"v\":1,\"type\":\"bye\",\"reason\":\"%s\"}", brackets);
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsMessage) msg = NULL;

  /* Brackets inside strings do not nest. */
  msg = cpns_message_decode_frame (in_string, strlen (in_string), CPNS_MAX_MESSAGE_SIZE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (cpns_message_get_string (msg, "reason"), ==, brackets);
  g_clear_pointer (&msg, cpns_message_unref);

  /* An escaped quote does not end the string… */
  assert_limits_ok ("{\"a\":\"\\\"[[[[[[[[[[[[[[[[[[[[[[\"}");
  /* …an escaped backslash before a quote does. */
  {
    g_autofree char *deep = nested (20, "[", "1", "]");
    g_autofree char *text = g_strdup_printf ("{\"a\":\"\\\\\",\"b\":%s}", deep);

    assert_limits_error (text, strlen (text), CPNS_MAX_MESSAGE_SIZE, CPNS_ERROR_BAD_REQUEST);
  }
  /* Keys are strings too. */
  assert_limits_ok ("{\"[[[[[[[[[[[[[[[[[[[[[[[[\":1}");
  /* Unicode escapes and UTF-8 pass. */
  assert_limits_ok ("{\"a\":\"\\u005b\\u007b caf\xc3\xa9\"}");
}

static void
test_malformed_bytes (void)
{
  /* Things json-glib would tolerate (comments, single quotes) but which
   * could hide brackets from the scan are refused before parsing. */
  const char *bad[] = {
    "{\"v\":1 /* \" */, \"type\":\"ping\"}",
    "{\"v\":1, # comment\n \"type\":\"ping\"}",
    "{'v':1,'type':'ping'}",
    "{\"v\":1,\"type\":\"ping\"}]",
    "{\"v\":1,\"type\":\"pi\nng\"}",
    "{\"v\":1,\"type\":\"ping\"}\x01",
  };
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_assert_false (cpns_json_check_limits (bad[i], strlen (bad[i]), CPNS_MAX_MESSAGE_SIZE,
                                              &error));
      g_assert_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST);
      g_assert_cmpstr (error->message, ==, "bad_request: malformed JSON");
      g_clear_error (&error);
    }

  /* An embedded NUL. */
  g_assert_false (cpns_json_check_limits ("{\"v\":1}\0{", 9, CPNS_MAX_MESSAGE_SIZE, &error));
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST);
  g_clear_error (&error);
  g_assert_false (cpns_json_check_limits ("{\"v\":\"\0\"}", 9, CPNS_MAX_MESSAGE_SIZE, &error));
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST);
  g_clear_error (&error);

  /* Integers of more than 18 digits (json-glib wraps them modulo 2^64). */
  {
    const char *big[] = { "{\"a\":1234567890123456789}", "{\"a\":-18446744073709544145}",
                          "[00000000000000000001]" };
    const char *fine[] = { "{\"a\":123456789012345678}", "{\"a\":-123456789012345678}",
                           "{\"a\":1.12345678901234567890123}", "{\"a\":1e-1234567890123456789}",
                           "{\"a\":\"12345678901234567890\"}" };

    for (guint i = 0; i < G_N_ELEMENTS (big); i++)
      {
        g_assert_false (cpns_json_check_limits (big[i], strlen (big[i]), CPNS_MAX_MESSAGE_SIZE,
                                                &error));
        g_assert_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST);
        g_assert_cmpstr (error->message, ==, "bad_request: a number is out of range");
        g_clear_error (&error);
      }
    for (guint i = 0; i < G_N_ELEMENTS (fine); i++)
      assert_limits_ok (fine[i]);
  }

  /* Ordinary JSON passes. */
  assert_limits_ok ("{ \"v\" : 1 ,\r\n\t\"n\" : -1.5e+3 , \"t\" : true , \"f\" : false , \"z\" : null }");
}

static void
assert_duplicate (const char *text,
                  const char *message)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (cpns_json_check_limits (text, strlen (text), CPNS_MAX_MESSAGE_SIZE, &error));
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST);
  g_assert_cmpstr (error->message, ==, message);
}

static void
test_duplicate_keys (void)
{
  /* One of each decoder: frame, datagram, body, event. */
  struct { const char *text; const char *message; } decoders[] = {
    { "{\"v\":1,\"type\":\"ping\",\"type\":\"ping\"}", "bad_request: duplicate key \"type\"" },
    { "{\"v\":1,\"type\":\"entity_discovery_request\",\"mode\":\"pne\",\"mode\":\"gateway\","
      "\"name\":\"x\",\"entity_type\":\"sensor\",\"nonce\":\"AAAAAAAAAAAAAAAAAAAAAA\"}",
      "bad_request: duplicate key \"mode\"" },
    { "{\"status\":\"ok\",\"version\":\"2.0\",\"status\":\"bad\"}", "bad_request: duplicate key \"status\"" },
    { "{\"type\":\"policy_changed\",\"by\":\"admin\",\"by\":\"me\"}", "bad_request: duplicate key \"by\"" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (decoders); i++)
    {
      const char *text = decoders[i].text;
      g_autoptr(GError) error = NULL;
      CpnsMessage *msg = NULL;

      switch (i)
        {
        case 0: msg = cpns_message_decode_frame (text, strlen (text), CPNS_MAX_MESSAGE_SIZE, &error); break;
        case 1: msg = cpns_message_decode_datagram (text, strlen (text), &error); break;
        case 2: msg = cpns_message_decode_body ("api.healthz", text, strlen (text), &error); break;
        default: msg = cpns_message_decode_event (text, strlen (text), &error); break;
        }
      g_assert_null (msg);
      g_assert_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST);
      g_assert_cmpstr (error->message, ==, decoders[i].message);
    }

  /* Compared after unescaping, as json-glib stores them. */
  assert_duplicate ("{\"v\":1,\"type\":\"ping\",\"\\u0074yp\\u0065\":\"bye\"}",
                    "bad_request: duplicate key \"type\"");
  assert_duplicate ("{\"a\\/b\":1,\"a/b\":2}", "bad_request: duplicate key \"a/b\"");
  assert_duplicate ("{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}",
                    "bad_request: duplicate key \"\\360\\237\\230\\200\"");
  assert_duplicate ("{\"\\u00E9\":1,\"\\u00e9\":2}", "bad_request: duplicate key \"\\303\\251\"");
  /* json-glib keeps keys as C strings: "a\u0000x" is "a" to it. */
  assert_duplicate ("{\"a\\u0000x\":1,\"a\":2}", "bad_request: duplicate key \"a\"");
  /* At any depth, in objects inside arrays too. */
  assert_duplicate ("{\"a\":[{\"b\":1},{\"c\":{\"d\":1,\"e\":[],\"d\":{}}}]}",
                    "bad_request: duplicate key \"d\"");
  assert_duplicate ("[{\"x\":null},{\"x\":true,\"x\":false}]", "bad_request: duplicate key \"x\"");
  /* A key the peer made hostile is escaped and cut in the message. */
  assert_duplicate ("{\"q\\\"\\n\":1,\"q\\\"\\n\":2}", "bad_request: duplicate key \"q\\\"\\n\"");
  {
    g_autofree char *long_key = g_strnfill (300, 'k');
    g_autofree char *text = g_strdup_printf ("{\"%s\":1,\"%s\":2}", long_key, long_key);
    g_autofree char *cut = g_strnfill (64, 'k');
    g_autofree char *expected = g_strdup_printf ("bad_request: duplicate key \"%s...\"", cut);

    assert_duplicate (text, expected);
  }

  /* The same key in different objects, strings that are values, and keys
   * that differ only after unescaping are all fine. */
  assert_limits_ok ("{\"a\":{\"a\":{\"a\":1}},\"b\":[{\"a\":1},{\"a\":2}],\"c\":{\"a\":3}}");
  assert_limits_ok ("{\"a\":\"a\",\"b\":[\"a\",\"a\",\"b\"],\"c\":\"b\"}");
  assert_limits_ok ("{\"a\":1,\"A\":2,\"\\u0041a\":3,\"a\\u0041\":4,\"\\\\u0061\":5}");
  {
    const char *nested = "{\"v\":1,\"type\":\"pairing_request\",\"has_credentials\":false,"
                         "\"entity\":{\"name\":\"x\",\"entity_type\":\"sensor\",\"services\":"
                         "[{\"name\":\"a\",\"protocol\":\"b\"},{\"name\":\"c\",\"protocol\":\"b\"}]}}";
    g_autoptr(GError) error = NULL;
    g_autoptr(CpnsMessage) msg = cpns_message_decode_frame (nested, strlen (nested),
                                                            CPNS_MAX_MESSAGE_SIZE, &error);

    g_assert_no_error (error);
    g_assert_nonnull (msg);
  }
}

/* json-glib's own view, for whatever the scan might unescape differently. */
static void
test_duplicate_keys_parser (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = NULL;
  const char *text = "{\"x\":[{\"session_key\":\"c2VjcmV0\",\"session_key\":\"b3RoZXI\"}]}";

  parser = cpns_json_parse_unique (text, strlen (text), &error);
  g_assert_null (parser);
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST);
  g_assert_cmpstr (error->message, ==, "bad_request: duplicate key \"session_key\"");
  g_clear_error (&error);

  text = "{\"x\":[{\"a\":1},{\"a\":2}],\"a\":{\"x\":1}}";
  parser = cpns_json_parse_unique (text, strlen (text), &error);
  g_assert_no_error (error);
  g_assert_nonnull (parser);
  g_clear_object (&parser);

  parser = cpns_json_parse_unique ("{\"a\":", 5, &error);
  g_assert_null (parser);
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST);
  g_assert_cmpstr (error->message, ==, "bad_request: malformed JSON");
}

/* An object of @n distinct keys, then the first key once more when
 * @repeat_first. */
static GString *
many_keys (guint    n,
           gboolean repeat_first)
{
  GString *s = g_string_new ("{");

  for (guint i = 0; i < n; i++)
    g_string_append_printf (s, "%s\"key%u\":%u", i ? "," : "", i, i);
  if (repeat_first)
    g_string_append (s, ",\"key0\":0");
  g_string_append (s, "}");
  return s;
}

static void
test_duplicate_keys_linear (void)
{
  const guint sizes[] = { 10000, 200000 };

  for (guint k = 0; k < G_N_ELEMENTS (sizes); k++)
    {
      g_autoptr(GError) error = NULL;
      GString *distinct = many_keys (sizes[k], FALSE);
      GString *repeated = many_keys (sizes[k], TRUE);
      gint64 start = g_get_monotonic_time (), distinct_us, repeated_us;

      g_assert_true (cpns_json_check_limits (distinct->str, distinct->len, G_MAXSIZE, &error));
      g_assert_no_error (error);
      distinct_us = g_get_monotonic_time () - start;
      start = g_get_monotonic_time ();
      g_assert_false (cpns_json_check_limits (repeated->str, repeated->len, G_MAXSIZE, &error));
      g_assert_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST);
      g_assert_cmpstr (error->message, ==, "bad_request: duplicate key \"key0\"");
      repeated_us = g_get_monotonic_time () - start;
      g_test_message ("%u keys (%" G_GSIZE_FORMAT " bytes): scanned in %" G_GINT64_FORMAT
                      " us, duplicate at the end found in %" G_GINT64_FORMAT " us",
                      sizes[k], distinct->len, distinct_us, repeated_us);
      /* A quadratic scan takes minutes on 200,000 keys (2·10^10 key
       * comparisons); a linear one takes milliseconds. The bound is loose
       * enough for a loaded machine and the sanitizers. */
      g_assert_cmpint (distinct_us + repeated_us, <, 10 * G_USEC_PER_SEC);
      g_string_free (distinct, TRUE);
      g_string_free (repeated, TRUE);
    }

  /* The shape json-glib handles in quadratic time (it walks the member
   * list to replace a repeated key: 64 KiB of one key repeated costs it
   * a third of a second) is refused at the second occurrence. */
  {
    GString *s = g_string_new ("{\"v\":1,\"type\":\"ping\"");
    g_autoptr(GError) error = NULL;
    gint64 start;

    for (guint i = 0; s->len < 32768; i++)
      g_string_append_printf (s, ",\"k%u\":0", i);
    while (s->len < CPNS_MAX_MESSAGE_SIZE - 16)
      g_string_append (s, ",\"last\":0");
    g_string_append (s, "}");
    start = g_get_monotonic_time ();
    g_assert_null (cpns_message_decode_frame (s->str, s->len, CPNS_MAX_MESSAGE_SIZE, &error));
    g_assert_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST);
    g_assert_cmpstr (error->message, ==, "bad_request: duplicate key \"last\"");
    g_test_message ("64 KiB frame repeating one key: refused in %" G_GINT64_FORMAT " us",
                    g_get_monotonic_time () - start);
    g_string_free (s, TRUE);
  }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/limits/too-large", test_too_large);
  g_test_add_func ("/limits/exact-limit", test_exact_limit);
  g_test_add_func ("/limits/preauth", test_preauth_limit);
  g_test_add_func ("/limits/depth", test_depth);
  g_test_add_func ("/limits/very-deep", test_very_deep);
  g_test_add_func ("/limits/strings-and-escapes", test_strings_and_escapes);
  g_test_add_func ("/limits/malformed-bytes", test_malformed_bytes);
  g_test_add_func ("/limits/duplicate-keys", test_duplicate_keys);
  g_test_add_func ("/limits/duplicate-keys-parser", test_duplicate_keys_parser);
  g_test_add_func ("/limits/duplicate-keys-linear", test_duplicate_keys_linear);

  return g_test_run ();
}
