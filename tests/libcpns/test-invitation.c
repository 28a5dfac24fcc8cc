/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Enrollment invitations (PROTOCOL.md §5.1). */
#include "config.h"

#include <string.h>

#include "cpns.h"

#define PIN "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

static void
test_valid (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsInvitation) inv = NULL;
  g_autoptr(CpnsInvitation) again = NULL;
  g_autofree char *uri = NULL;

  inv = cpns_invitation_parse ("cpns://enroll?server=https%3A%2F%2Fhost%3A7443&user=alice"
                               "&code=ABCD-EFGH-2345-67QR&pin=sha256:" PIN, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (inv->server_url, ==, "https://host:7443");
  g_assert_cmpstr (inv->user_id, ==, "alice");
  g_assert_cmpstr (inv->code, ==, "ABCD-EFGH-2345-67QR");
  g_assert_cmpstr (inv->pin_sha256, ==, PIN);

  uri = cpns_invitation_to_uri (inv);
  g_assert_cmpstr (uri, ==, "cpns://enroll?server=https%3A%2F%2Fhost%3A7443&user=alice"
                            "&code=ABCD-EFGH-2345-67QR&pin=sha256:" PIN);
  again = cpns_invitation_parse (uri, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (again->server_url, ==, inv->server_url);
  g_assert_cmpstr (again->code, ==, inv->code);
}

static void
test_variants (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsInvitation) inv = NULL;
  g_autofree char *uri = NULL;

  /* No pin, unescaped URL, trailing slash, lower-case code and pin,
   * parameters in another order, an unknown parameter, an IPv6 host. */
  inv = cpns_invitation_parse ("CPNS://enroll?code=abcd-efgh-2345-67qr&extra=1&user=bob.smith_2"
                               "&server=https://[::1]:7443/", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (inv->server_url, ==, "https://[::1]:7443");
  g_assert_cmpstr (inv->user_id, ==, "bob.smith_2");
  g_assert_cmpstr (inv->code, ==, "ABCD-EFGH-2345-67QR");
  g_assert_null (inv->pin_sha256);
  uri = cpns_invitation_to_uri (inv);
  g_assert_cmpstr (uri, ==, "cpns://enroll?server=https%3A%2F%2F%5B%3A%3A1%5D%3A7443"
                            "&user=bob.smith_2&code=ABCD-EFGH-2345-67QR");
  g_clear_pointer (&inv, cpns_invitation_free);

  inv = cpns_invitation_parse ("cpns://enroll?server=https%3A%2F%2Fcpns.example.org&user=a"
                               "&code=ABCD-EFGH-2345-67QR&pin=SHA256:" "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08",
                               &error);
  g_assert_no_error (error);
  g_assert_cmpstr (inv->server_url, ==, "https://cpns.example.org");
  g_assert_cmpstr (inv->pin_sha256, ==, PIN);
}

static void
assert_invalid (const char *uri,
                const char *part)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsInvitation) inv = cpns_invitation_parse (uri, &error);

  if (inv != NULL)
    g_error ("accepted: %s", uri);
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST);
  g_assert_true (g_str_has_prefix (error->message, "bad_request: invalid invitation: "));
  if (strstr (error->message, part) == NULL)
    g_error ("'%s' does not mention %s (for %s)", error->message, part, uri);
  /* The code never appears in an error message. */
  g_assert_null (strstr (error->message, "EFGH"));
}

#define S "server=https%3A%2F%2Fhost%3A7443"
#define U "user=alice"
#define C "code=ABCD-EFGH-2345-67QR"

static void
test_invalid (void)
{
  g_autofree char *long_uri = NULL;

  assert_invalid ("", "cpns://enroll?");
  assert_invalid ("https://host/?" S "&" U "&" C, "cpns://enroll?");
  assert_invalid ("cpns://join?" S "&" U "&" C, "cpns://enroll?");
  assert_invalid ("cpns://enroll?" U "&" C, "'server' is missing");
  assert_invalid ("cpns://enroll?" S "&" C, "'user' is missing");
  assert_invalid ("cpns://enroll?" S "&" U, "'code' is missing");
  assert_invalid ("cpns://enroll?" S "&" U "&code=", "'code' is missing");
  assert_invalid ("cpns://enroll?" S "&" S "&" U "&" C, "'server' appears more than once");
  assert_invalid ("cpns://enroll?" S "&" U "&" C "&pin", "no value");
  assert_invalid ("cpns://enroll?" S "&" U "&" C "#frag", "fragment");

  /* server */
  assert_invalid ("cpns://enroll?server=http%3A%2F%2Fhost&" U "&" C, "'server' must be an https URL");
  assert_invalid ("cpns://enroll?server=host%3A7443&" U "&" C, "'server' must be an https URL");
  assert_invalid ("cpns://enroll?server=https%3A%2F%2F&" U "&" C, "'server'");
  assert_invalid ("cpns://enroll?server=https%3A%2F%2Fu%3Ap%40host&" U "&" C, "'server' must be https://host[:port] only");
  assert_invalid ("cpns://enroll?server=https%3A%2F%2Fhost%2Fapi&" U "&" C, "'server' must be https://host[:port] only");
  assert_invalid ("cpns://enroll?server=https%3A%2F%2Fhost%3Fq%3D1&" U "&" C, "'server' must be https://host[:port] only");
  assert_invalid ("cpns://enroll?server=https%3A%2F%2Fhost%3A99999&" U "&" C, "'server'");
  assert_invalid ("cpns://enroll?server=%ZZ&" U "&" C, "'server' is not correctly percent-encoded");
  assert_invalid ("cpns://enroll?server=https%3A%2F%2Fho%00st&" U "&" C, "'server' is not correctly percent-encoded");

  /* user */
  assert_invalid ("cpns://enroll?" S "&user=Alice&" C, "'user' must be");
  assert_invalid ("cpns://enroll?" S "&user=al%20ice&" C, "'user' must be");
  {
    g_autofree char *u65 = g_strnfill (65, 'a');
    g_autofree char *uri = g_strconcat ("cpns://enroll?" S "&user=", u65, "&" C, NULL);

    assert_invalid (uri, "'user' must be");
  }

  /* code */
  assert_invalid ("cpns://enroll?" S "&" U "&code=ABCD-EFGH-2345-67Q", "'code' must be 16 base32");
  assert_invalid ("cpns://enroll?" S "&" U "&code=ABCD-EFGH-2345-67Q1", "'code' must be 16 base32");
  assert_invalid ("cpns://enroll?" S "&" U "&code=ABCDEFGH234567QR", "'code' must be 16 base32");
  assert_invalid ("cpns://enroll?" S "&" U "&code=ABCD-EFGH-2345-67QRS", "'code' must be 16 base32");
  assert_invalid ("cpns://enroll?" S "&" U "&code=ABCD_EFGH_2345_67QR", "'code' must be 16 base32");

  /* pin */
  assert_invalid ("cpns://enroll?" S "&" U "&" C "&pin=" PIN, "'pin' must be sha256:");
  assert_invalid ("cpns://enroll?" S "&" U "&" C "&pin=sha1:" PIN, "'pin' must be sha256:");
  assert_invalid ("cpns://enroll?" S "&" U "&" C "&pin=sha256:9f86", "'pin' must be sha256:");
  assert_invalid ("cpns://enroll?" S "&" U "&" C "&pin=sha256:" PIN "00", "'pin' must be sha256:");
  assert_invalid ("cpns://enroll?" S "&" U "&" C "&pin=sha256:zz86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                  "'pin' must be sha256:");

  {
    g_autofree char *pad = g_strnfill (5000, '0');

    long_uri = g_strconcat ("cpns://enroll?" S "&" U "&" C "&x=", pad, NULL);
  }
  assert_invalid (long_uri, "longer than");
}

static void
test_code_wiped (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsInvitation) inv = cpns_invitation_parse ("cpns://enroll?" S "&" U "&" C, &error);
  char *code;

  g_assert_no_error (error);
  code = inv->code;
  g_assert_cmpuint (strlen (code), ==, 19);
  /* What free does first: every byte of the code is zeroed in place. */
  cpns_invitation_wipe (inv);
  g_assert_true (inv->code == code);
  for (guint i = 0; i < 19; i++)
    g_assert_cmpint (code[i], ==, 0);
  g_assert_cmpstr (inv->user_id, ==, "alice");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/invitation/valid", test_valid);
  g_test_add_func ("/invitation/variants", test_variants);
  g_test_add_func ("/invitation/invalid", test_invalid);
  g_test_add_func ("/invitation/code-wiped", test_code_wiped);

  return g_test_run ();
}
