/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Size and nesting limits of PROTOCOL.md §2, enforced before json-glib
 * parses anything. */
#include "config.h"

#include <string.h>

#include "cpns.h"

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

  return g_test_run ();
}
