/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns"

#include "config.h"

#include <string.h>

#include "cpns-base64.h"

static const char alphabet[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *
cpns_base64url_encode (const guint8 *data,
                       gsize         len)
{
  GString *out = g_string_sized_new ((len * 4) / 3 + 4);
  gsize i = 0;

  g_return_val_if_fail (data != NULL || len == 0, NULL);

  for (; i + 3 <= len; i += 3)
    {
      guint32 v = ((guint32) data[i] << 16) | ((guint32) data[i + 1] << 8) | data[i + 2];
      g_string_append_c (out, alphabet[(v >> 18) & 63]);
      g_string_append_c (out, alphabet[(v >> 12) & 63]);
      g_string_append_c (out, alphabet[(v >> 6) & 63]);
      g_string_append_c (out, alphabet[v & 63]);
    }
  if (len - i == 1)
    {
      guint32 v = (guint32) data[i] << 16;
      g_string_append_c (out, alphabet[(v >> 18) & 63]);
      g_string_append_c (out, alphabet[(v >> 12) & 63]);
    }
  else if (len - i == 2)
    {
      guint32 v = ((guint32) data[i] << 16) | ((guint32) data[i + 1] << 8);
      g_string_append_c (out, alphabet[(v >> 18) & 63]);
      g_string_append_c (out, alphabet[(v >> 12) & 63]);
      g_string_append_c (out, alphabet[(v >> 6) & 63]);
    }
  return g_string_free (out, FALSE);
}

static int
value_of (char c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '-')
    return 62;
  if (c == '_')
    return 63;
  return -1;
}

/* Decodes @text (of @text_len chars) into @out (room for @out_len bytes);
 * returns the decoded length or -1. */
static gssize
decode_into (const char *text,
             gsize       text_len,
             guint8     *out,
             gsize       out_len)
{
  gsize n = 0;
  guint32 acc = 0;
  guint bits = 0;

  if (text_len % 4 == 1)
    return -1;

  for (gsize i = 0; i < text_len; i++)
    {
      int v = value_of (text[i]);
      if (v < 0)
        return -1;
      acc = (acc << 6) | (guint32) v;
      bits += 6;
      if (bits >= 8)
        {
          bits -= 8;
          if (n >= out_len)
            return -1;
          out[n++] = (guint8) (acc >> bits);
          acc &= (1u << bits) - 1;
        }
    }
  /* Non-canonical encodings (non-zero trailing bits) are rejected. */
  if (acc != 0)
    return -1;
  return (gssize) n;
}

gboolean
cpns_base64url_decode_exact (const char *text,
                             guint8     *out,
                             gsize       expected_len)
{
  gsize text_len;

  g_return_val_if_fail (out != NULL, FALSE);

  if (text == NULL)
    return FALSE;
  text_len = strlen (text);
  if (text_len != (expected_len * 4 + 2) / 3)
    return FALSE;
  return decode_into (text, text_len, out, expected_len) == (gssize) expected_len;
}

GBytes *
cpns_base64url_decode (const char *text)
{
  gsize text_len;
  gsize room;
  guint8 *buf;
  gssize n;

  if (text == NULL)
    return NULL;
  text_len = strlen (text);
  room = (text_len * 3) / 4 + 1;
  buf = g_malloc (room);
  n = decode_into (text, text_len, buf, room);
  if (n < 0)
    {
      g_free (buf);
      return NULL;
    }
  return g_bytes_new_take (buf, (gsize) n);
}

char *
cpns_hex_encode (const guint8 *data,
                 gsize         len)
{
  static const char digits[] = "0123456789abcdef";
  char *out = g_malloc (len * 2 + 1);

  for (gsize i = 0; i < len; i++)
    {
      out[2 * i] = digits[data[i] >> 4];
      out[2 * i + 1] = digits[data[i] & 15];
    }
  out[len * 2] = '\0';
  return out;
}

gboolean
cpns_hex_decode_exact (const char *text,
                       guint8     *out,
                       gsize       expected_len)
{
  if (text == NULL || strlen (text) != expected_len * 2)
    return FALSE;
  for (gsize i = 0; i < expected_len; i++)
    {
      int hi = g_ascii_xdigit_value (text[2 * i]);
      int lo = g_ascii_xdigit_value (text[2 * i + 1]);
      if (hi < 0 || lo < 0)
        return FALSE;
      out[i] = (guint8) ((hi << 4) | lo);
    }
  return TRUE;
}
