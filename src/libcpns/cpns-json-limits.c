/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The size and nesting limits of PROTOCOL.md §2, checked by a byte scan
 * before json-glib (which has no depth limit and recurses) sees the text;
 * then the parse itself, which refuses repeated keys. */
#define G_LOG_DOMAIN "cpns"

#include "config.h"

#include <string.h>

#include "cpns-error.h"
#include "cpns-message.h"
#include "cpns-message-private.h"

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

/*
 * Duplicate keys, refused by the scan already: json-glib keeps the last of
 * repeated members without a word (so {"pne_id":A,"pne_id":B} would mean B
 * to us and maybe A to another reader), and it finds the member to replace
 * by a walk of the object's member list, so 64 KiB of one repeated key
 * costs it a third of a second. Each key is unescaped as json-glib does
 * ("a" and "\u0061" are one key; a key ends at \u0000 for json-glib, which
 * keeps C strings) and looked up in one hash table of (object, key) for
 * the whole text: O(1) per key.
 */
typedef struct
{
  guint object;   /* which object of the text, numbered from 1 */
  gsize len;
  char  bytes[];
} ScanKey;

static guint
scan_key_hash (gconstpointer p)
{
  const ScanKey *key = p;
  guint h = 5381 + key->object * 33u;

  for (gsize i = 0; i < key->len; i++)
    h = h * 33u + (guchar) key->bytes[i];
  return h;
}

static gboolean
scan_key_equal (gconstpointer a,
                gconstpointer b)
{
  const ScanKey *x = a, *y = b;

  return x->object == y->object && x->len == y->len && memcmp (x->bytes, y->bytes, x->len) == 0;
}

static gboolean
read_hex4 (const char *p,
           gsize       avail,
           gunichar   *out)
{
  gunichar value = 0;

  if (avail < 4)
    return FALSE;
  for (int i = 0; i < 4; i++)
    {
      int digit = g_ascii_xdigit_value (p[i]);

      if (digit < 0)
        return FALSE;
      value = value * 16 + (gunichar) digit;
    }
  *out = value;
  return TRUE;
}

/* The raw text of a key (between its quotes) as json-glib stores it. An
 * escape json-glib would refuse is kept as its letter: the parse fails
 * on it anyway. */
static void
unescape_key (const char *raw,
              gsize       len,
              GString    *out)
{
  g_string_truncate (out, 0);
  for (gsize i = 0; i < len; i++)
    {
      char c = raw[i];
      gunichar u, low;
      char utf8[6];

      if (c != '\\' || i + 1 >= len)
        {
          g_string_append_c (out, c);
          continue;
        }
      c = raw[++i];
      switch (c)
        {
        case 'b': g_string_append_c (out, '\b'); break;
        case 'f': g_string_append_c (out, '\f'); break;
        case 'n': g_string_append_c (out, '\n'); break;
        case 'r': g_string_append_c (out, '\r'); break;
        case 't': g_string_append_c (out, '\t'); break;
        case 'u':
          if (!read_hex4 (raw + i + 1, len - i - 1, &u))
            {
              g_string_append_c (out, c);
              break;
            }
          i += 4;
          if (u >= 0xd800 && u <= 0xdbff && i + 2 < len && raw[i + 1] == '\\' && raw[i + 2] == 'u' &&
              read_hex4 (raw + i + 3, len - i - 3, &low) && low >= 0xdc00 && low <= 0xdfff)
            {
              u = 0x10000 + ((u - 0xd800) << 10) + (low - 0xdc00);
              i += 6;
            }
          if (u == 0)
            return;   /* the end of the key for json-glib */
          g_string_append_len (out, utf8, g_unichar_to_utf8 (u, utf8));
          break;
        default:      /* '"', '\\', '/' and the ones json-glib refuses */
          g_string_append_c (out, c);
          break;
        }
    }
}

/* The key as printable ASCII for an error message: the peer chose it, so
 * quotes, control characters and non-ASCII bytes are escaped and a long
 * key is cut. */
#define MAX_KEY_IN_MESSAGE 64

static void
set_duplicate_error (GError     **error,
                     const char  *key,
                     gsize        len)
{
  g_autofree char *cut = g_strndup (key, MIN (len, MAX_KEY_IN_MESSAGE));
  g_autofree char *escaped = g_strescape (cut, NULL);

  g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST, "bad_request: duplicate key \"%s%s\"",
               escaped, len > MAX_KEY_IN_MESSAGE ? "..." : "");
}

typedef struct
{
  GHashTable *keys;      /* ScanKey set, made at the first key */
  GString    *scratch;
} KeyScan;

static void
key_scan_clear (KeyScan *scan)
{
  g_clear_pointer (&scan->keys, g_hash_table_unref);
  if (scan->scratch != NULL)
    g_string_free (g_steal_pointer (&scan->scratch), TRUE);
}

/* FALSE (and the error) when @object already has this key. */
static gboolean
key_scan_add (KeyScan     *scan,
              guint        object,
              const char  *raw,
              gsize        len,
              gboolean     escaped,
              GError     **error)
{
  ScanKey *key;
  const char *bytes = raw;
  gsize n = len;

  if (escaped)
    {
      if (scan->scratch == NULL)
        scan->scratch = g_string_sized_new (len);
      unescape_key (raw, len, scan->scratch);
      bytes = scan->scratch->str;
      n = scan->scratch->len;
    }
  if (scan->keys == NULL)
    scan->keys = g_hash_table_new_full (scan_key_hash, scan_key_equal, g_free, NULL);

  key = g_malloc (sizeof (ScanKey) + n);
  key->object = object;
  key->len = n;
  memcpy (key->bytes, bytes, n);
  if (g_hash_table_contains (scan->keys, key))
    {
      set_duplicate_error (error, key->bytes, key->len);
      g_free (key);
      return FALSE;
    }
  g_hash_table_add (scan->keys, key);
  /* The table owns @key now (cppcheck does not know g_hash_table_add). */
  /* cppcheck-suppress memleak */
  return TRUE;
}

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
  /* Objects and keys. */
  guint object_of[CPNS_MAX_DEPTH + 1] = { 0 };  /* per level; 0 = an array */
  guint objects = 0;
  gboolean expect_key = FALSE;  /* the next string is a key */
  gboolean in_key = FALSE;
  gboolean key_escaped = FALSE;
  gsize key_start = 0;
  KeyScan keys = { NULL, NULL };
  gboolean ok = FALSE;

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
            {
              in_string = FALSE;
              if (in_key && !key_scan_add (&keys, object_of[depth], data + key_start, i - key_start,
                                           key_escaped, error))
                goto out;
              in_key = FALSE;
            }
          else if (c == '\\')
            {
              /* The escaped byte never ends the string. */
              key_escaped = TRUE;
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
              goto out;
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
          if (expect_key)
            {
              in_key = TRUE;
              key_escaped = FALSE;
              key_start = i + 1;
              expect_key = FALSE;
            }
          break;

        case '{':
        case '[':
          if (++depth > CPNS_MAX_DEPTH)
            {
              g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                           "bad_request: JSON nested deeper than %d levels", CPNS_MAX_DEPTH);
              goto out;
            }
          object_of[depth] = c == '{' ? ++objects : 0;
          expect_key = c == '{';
          break;

        case '}':
        case ']':
          if (depth == 0)
            goto malformed;
          depth--;
          expect_key = FALSE;
          break;

        case ',':
          expect_key = depth > 0 && object_of[depth] != 0;
          break;

        default:
          if (!allowed_outside_string (c))
            goto malformed;
          break;
        }
    }

  ok = TRUE;
  goto out;

malformed:
  g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST, "bad_request: malformed JSON");
out:
  key_scan_clear (&keys);
  return ok;
}

/*
 * The same rule once more on json-glib's own view of the keys, in case its
 * unescaping differs from the scan's somewhere (lone surrogates, say): its
 * "object-member" signal is emitted once per member, after the member is
 * stored, so a member that leaves its object no larger than the number of
 * members seen so far replaced an earlier one.
 */
typedef struct
{
  GHashTable *seen;      /* JsonObject* → members parsed so far */
  char       *duplicate; /* the first repeated key */
} DuplicateWatch;

static void
object_member_cb (JsonParser *parser,
                  JsonObject *object,
                  const char *member_name,
                  gpointer    user_data)
{
  DuplicateWatch *watch = user_data;
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (watch->seen, object)) + 1;

  g_hash_table_insert (watch->seen, object, GUINT_TO_POINTER (n));
  if (n > json_object_get_size (object) && watch->duplicate == NULL)
    watch->duplicate = g_strdup (member_name);
}

JsonParser *
cpns_json_parse_unique (const char  *text,
                        gsize        len,
                        GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  DuplicateWatch watch = { g_hash_table_new (NULL, NULL), NULL };
  gboolean ok;

  g_return_val_if_fail (text != NULL, NULL);

  g_signal_connect (parser, "object-member", G_CALLBACK (object_member_cb), &watch);
  ok = json_parser_load_from_data (parser, text, (gssize) len, NULL);
  g_signal_handlers_disconnect_by_data (parser, &watch);
  g_hash_table_unref (watch.seen);

  if (!ok)
    {
      g_free (watch.duplicate);
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST, "bad_request: malformed JSON");
      return NULL;
    }
  if (watch.duplicate != NULL)
    {
      JsonNode *root = json_parser_get_root (parser);

      set_duplicate_error (error, watch.duplicate, strlen (watch.duplicate));
      g_free (watch.duplicate);
      /* The tree may hold secrets: wipe them before it goes. */
      if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
        cpns_json_wipe_secrets (json_node_get_object (root));
      return NULL;
    }
  return g_steal_pointer (&parser);
}
