/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The size and nesting limits of PROTOCOL.md §2, checked by a byte scan
 * before json-glib (which has no depth limit and recurses) sees the text. */
#define G_LOG_DOMAIN "cpns"

#include "config.h"

#include "cpns-error.h"
#include "cpns-message.h"

/*
 * Besides counting depth, the scan refuses any byte outside a string that
 * strict JSON does not allow there (comments, single quotes, control
 * characters…). json-glib's scanner accepts some of these (comments, for
 * one), and a "/" + "*" or a "'" that the scan took for plain text could hide
 * brackets from it, so only text both agree on reaches the parser.
 */
static inline gboolean
allowed_outside_string (guchar c)
{
  switch (c)
    {
    case ' ': case '\t': case '\n': case '\r':
    case ',': case ':':
    case '+': case '-': case '.':
      return TRUE;
    default:
      return g_ascii_isalnum (c);
    }
}

/* json-glib 1.6 reads integers of 20 digits and more modulo 2^64 (it
 * takes -18446744073709544145 for 7471), so the integer part of a number
 * may have at most 18 digits; nothing in the protocol comes close. */
#define MAX_INTEGER_DIGITS 18

gboolean
cpns_json_check_limits (const char  *data,
                        gsize        len,
                        gsize        max_size,
                        GError     **error)
{
  guint depth = 0;
  gboolean in_string = FALSE;
  gboolean in_number = FALSE;   /* inside a number token */
  gboolean in_integer = FALSE;  /* …and still in its integer part */
  guint integer_digits = 0;

  g_return_val_if_fail (data != NULL || len == 0, FALSE);

  if (len > max_size)
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_TOO_LARGE,
                   "too_large: message of %" G_GSIZE_FORMAT " bytes is over the limit of %"
                   G_GSIZE_FORMAT " bytes", len, max_size);
      return FALSE;
    }

  for (gsize i = 0; i < len; i++)
    {
      guchar c = (guchar) data[i];

      if (in_string)
        {
          if (c == '"')
            in_string = FALSE;
          else if (c == '\\')
            {
              /* The escaped byte never ends the string. */
              i++;
              if (i < len && (guchar) data[i] < 0x20)
                goto malformed;
            }
          else if (c < 0x20)
            goto malformed;
          continue;
        }

      if (g_ascii_isdigit (c) || c == '-')
        {
          if (!in_number)
            {
              in_number = in_integer = TRUE;
              integer_digits = 0;
            }
          if (in_integer && c != '-' && ++integer_digits > MAX_INTEGER_DIGITS)
            {
              g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                           "bad_request: a number is out of range");
              return FALSE;
            }
          continue;
        }
      if (in_number && (c == '.' || c == 'e' || c == 'E' || c == '+'))
        {
          in_integer = FALSE;
          continue;
        }
      in_number = FALSE;

      switch (c)
        {
        case '"':
          in_string = TRUE;
          break;

        case '{':
        case '[':
          if (++depth > CPNS_MAX_DEPTH)
            {
              g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                           "bad_request: JSON nested deeper than %d levels", CPNS_MAX_DEPTH);
              return FALSE;
            }
          break;

        case '}':
        case ']':
          if (depth == 0)
            goto malformed;
          depth--;
          break;

        default:
          if (!allowed_outside_string (c))
            goto malformed;
          break;
        }
    }

  return TRUE;

malformed:
  g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST, "bad_request: malformed JSON");
  return FALSE;
}
