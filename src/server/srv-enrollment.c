/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-server"

#include "config.h"

#include <string.h>

#include "cpns-crypto.h"
#include "srv-enrollment.h"

static const char base32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

char *
srv_enrollment_code_new (void)
{
  guint8 bits[10];
  char chars[16];
  GString *out = g_string_sized_new (20);
  guint64 acc = 0;
  int nbits = 0, n = 0;

  cpns_random_key (bits, sizeof bits);
  for (gsize i = 0; i < sizeof bits; i++)
    {
      acc = (acc << 8) | bits[i];
      nbits += 8;
      while (nbits >= 5)
        {
          chars[n++] = base32_alphabet[(acc >> (nbits - 5)) & 31];
          nbits -= 5;
        }
    }
  for (int i = 0; i < 16; i++)
    {
      if (i > 0 && i % 4 == 0)
        g_string_append_c (out, '-');
      g_string_append_c (out, chars[i]);
    }
  cpns_wipe (bits, sizeof bits);
  cpns_wipe (chars, sizeof chars);
  return g_string_free (out, FALSE);
}

char *
srv_enrollment_code_hash (const char *code)
{
  char canonical[64];
  gsize n = 0;
  char *hash;

  for (const char *p = code; p && *p && n < sizeof canonical - 1; p++)
    if (*p != '-' && *p != ' ')
      canonical[n++] = g_ascii_toupper (*p);
  canonical[n] = '\0';
  hash = cpns_sha256_hex (canonical, n);
  cpns_wipe (canonical, sizeof canonical);
  return hash;
}

char *
srv_enrollment_invitation (const char *server_url,
                           const char *user_id,
                           const char *code,
                           const char *pin_hex)
{
  g_autofree char *server = g_uri_escape_string (server_url, NULL, FALSE);
  g_autofree char *user = g_uri_escape_string (user_id, NULL, FALSE);

  if (pin_hex != NULL)
    return g_strdup_printf ("cpns://enroll?server=%s&user=%s&code=%s&pin=sha256:%s",
                            server, user, code, pin_hex);
  return g_strdup_printf ("cpns://enroll?server=%s&user=%s&code=%s", server, user, code);
}
