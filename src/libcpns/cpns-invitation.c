/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Enrollment invitations (PROTOCOL.md §5.1). */
#define G_LOG_DOMAIN "cpns"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "cpns-crypto.h"
#include "cpns-error.h"
#include "cpns-ids.h"
#include "cpns-invitation.h"
#include "cpns-message-private.h"

#define INVITATION_PREFIX "cpns://enroll?"
#define PIN_PREFIX "sha256:"
#define MAX_INVITATION_LEN 4096

void
cpns_invitation_wipe (CpnsInvitation *invitation)
{
  g_return_if_fail (invitation != NULL);

  if (invitation->code != NULL)
    cpns_wipe (invitation->code, strlen (invitation->code));
}

void
cpns_invitation_free (CpnsInvitation *invitation)
{
  if (invitation == NULL)
    return;
  g_free (invitation->server_url);
  g_free (invitation->user_id);
  cpns_free_secret_string (invitation->code);
  g_free (invitation->pin_sha256);
  g_free (invitation);
}

static gboolean
invalid (GError    **error,
         const char *format,
         ...) G_GNUC_PRINTF (2, 3);

static gboolean
invalid (GError    **error,
         const char *format,
         ...)
{
  va_list args;
  g_autofree char *what = NULL;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST, "bad_request: invalid invitation: %s",
               what);
  return FALSE;
}

/* An https URL with a host, optional port, no user info, path, query or
 * fragment. Returns the URL without a trailing "/". */
static char *
check_server (const char  *text,
              GError     **error)
{
  g_autoptr(GUri) uri = NULL;
  const char *path;
  gsize len;

  uri = g_uri_parse (text, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL || g_strcmp0 (g_uri_get_scheme (uri), "https") != 0)
    {
      invalid (error, "'server' must be an https URL");
      return NULL;
    }
  if (g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    {
      invalid (error, "'server' has no host");
      return NULL;
    }
  path = g_uri_get_path (uri);
  if (g_uri_get_userinfo (uri) != NULL || g_uri_get_query (uri) != NULL ||
      g_uri_get_fragment (uri) != NULL || (path != NULL && *path != '\0' && strcmp (path, "/") != 0))
    {
      invalid (error, "'server' must be https://host[:port] only");
      return NULL;
    }
  len = strlen (text);
  if (len > 0 && text[len - 1] == '/')
    len--;
  return g_strndup (text, len);
}

/* 16 base32 characters in 4 groups; lower case is accepted and raised. */
static char *
check_code (const char  *text,
            GError     **error)
{
  char *code = g_ascii_strup (text, -1);

  if (!cpns_enrollment_code_is_valid (code))
    {
      cpns_free_secret_string (code);
      invalid (error, "'code' must be 16 base32 characters in 4 groups (XXXX-XXXX-XXXX-XXXX)");
      return NULL;
    }
  return code;
}

static char *
check_pin (const char  *text,
           GError     **error)
{
  const char *hex;
  gsize n = 0;

  if (g_ascii_strncasecmp (text, PIN_PREFIX, strlen (PIN_PREFIX)) != 0)
    goto bad;
  hex = text + strlen (PIN_PREFIX);
  for (const char *p = hex; *p; p++, n++)
    if (!g_ascii_isxdigit (*p))
      goto bad;
  if (n != 64)
    goto bad;
  return g_ascii_strdown (hex, -1);

bad:
  invalid (error, "'pin' must be sha256: followed by 64 hex digits");
  return NULL;
}

static void
wipe_strv (char **strv)
{
  for (gsize i = 0; strv != NULL && strv[i] != NULL; i++)
    cpns_wipe (strv[i], strlen (strv[i]));
  g_strfreev (strv);
}

CpnsInvitation *
cpns_invitation_parse (const char  *uri,
                       GError     **error)
{
  g_autoptr(CpnsInvitation) invitation = NULL;
  char **params = NULL;
  char *values[4] = { NULL, NULL, NULL, NULL };   /* server, user, code, pin */
  static const char * const names[4] = { "server", "user", "code", "pin" };
  gboolean ok = FALSE;
  gsize len;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (uri == NULL)
    {
      invalid (error, "empty");
      return NULL;
    }
  len = strlen (uri);
  if (len > MAX_INVITATION_LEN)
    {
      invalid (error, "longer than %d bytes", MAX_INVITATION_LEN);
      return NULL;
    }
  if (len < strlen (INVITATION_PREFIX) ||
      g_ascii_strncasecmp (uri, "cpns://", 7) != 0 ||
      strncmp (uri + 7, "enroll?", 7) != 0)
    {
      invalid (error, "it must start with %s", INVITATION_PREFIX);
      return NULL;
    }
  if (strchr (uri, '#') != NULL)
    {
      invalid (error, "it must not have a fragment (#)");
      return NULL;
    }

  params = g_strsplit (uri + strlen (INVITATION_PREFIX), "&", 64);
  for (gsize i = 0; params[i] != NULL; i++)
    {
      char *eq = strchr (params[i], '=');
      gsize key_len;
      int which = -1;

      if (*params[i] == '\0')
        continue;
      if (eq == NULL)
        {
          invalid (error, "a parameter has no value");
          goto out;
        }
      key_len = eq - params[i];
      for (int k = 0; k < 4; k++)
        if (strlen (names[k]) == key_len && strncmp (params[i], names[k], key_len) == 0)
          which = k;
      if (which < 0)
        continue;   /* unknown parameters are ignored */
      if (values[which] != NULL)
        {
          invalid (error, "'%s' appears more than once", names[which]);
          goto out;
        }
      values[which] = g_uri_unescape_string (eq + 1, NULL);
      if (values[which] == NULL || !g_utf8_validate (values[which], -1, NULL))
        {
          invalid (error, "'%s' is not correctly percent-encoded", names[which]);
          goto out;
        }
    }

  for (int k = 0; k < 3; k++)
    if (values[k] == NULL || *values[k] == '\0')
      {
        invalid (error, "'%s' is missing", names[k]);
        goto out;
      }

  invitation = g_new0 (CpnsInvitation, 1);
  if ((invitation->server_url = check_server (values[0], error)) == NULL)
    goto out;
  if (!cpns_user_id_is_valid (values[1]))
    {
      invalid (error, "'user' must be 1 to 64 of a-z 0-9 . _ -");
      goto out;
    }
  invitation->user_id = g_strdup (values[1]);
  if ((invitation->code = check_code (values[2], error)) == NULL)
    goto out;
  if (values[3] != NULL && (invitation->pin_sha256 = check_pin (values[3], error)) == NULL)
    goto out;
  ok = TRUE;

out:
  for (int k = 0; k < 4; k++)
    if (values[k] != NULL)
      cpns_free_secret_string (values[k]);
  wipe_strv (params);
  return ok ? g_steal_pointer (&invitation) : NULL;
}

char *
cpns_invitation_to_uri (const CpnsInvitation *invitation)
{
  g_autofree char *server = NULL;
  g_autofree char *user = NULL;
  GString *uri;

  g_return_val_if_fail (invitation != NULL, NULL);
  g_return_val_if_fail (invitation->server_url != NULL, NULL);
  g_return_val_if_fail (invitation->user_id != NULL, NULL);
  g_return_val_if_fail (invitation->code != NULL, NULL);

  server = g_uri_escape_string (invitation->server_url, NULL, FALSE);
  user = g_uri_escape_string (invitation->user_id, NULL, FALSE);
  uri = g_string_sized_new (strlen (server) + strlen (user) + 256);
  g_string_append (uri, INVITATION_PREFIX);
  g_string_append_printf (uri, "server=%s&user=%s&code=%s", server, user, invitation->code);
  if (invitation->pin_sha256 != NULL)
    g_string_append_printf (uri, "&pin=" PIN_PREFIX "%s", invitation->pin_sha256);
  return g_string_free (uri, FALSE);
}

static void
set_file_error (GError    **error,
                const char *where,
                int         errsv)
{
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errsv), "%s: %s", where,
               g_strerror (errsv));
}

char *
cpns_invitation_read_file (const char  *path,
                           GError     **error)
{
  gboolean from_stdin;
  g_autofree char *where = NULL;
  g_autoptr(CpnsInvitation) parsed = NULL;
  g_autoptr(GError) parse_error = NULL;
  char line[MAX_INVITATION_LEN + 1];
  char *result = NULL;
  gsize n = 0;
  int fd;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  from_stdin = strcmp (path, "-") == 0;
  where = from_stdin ? g_strdup (_("standard input")) : g_filename_display_name (path);
  fd = from_stdin ? STDIN_FILENO : g_open (path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0)
    {
      set_file_error (error, where, errno);
      return NULL;
    }
  /* A byte at a time: on standard input nothing past the line is taken. */
  while (n < MAX_INVITATION_LEN)
    {
      ssize_t r = read (fd, line + n, 1);

      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        {
          set_file_error (error, where, errno);
          goto out;
        }
      if (r == 0 || line[n] == '\n')
        break;
      n++;
    }
  line[n] = '\0';
  if (n == MAX_INVITATION_LEN)
    g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                 _("%s: the first line is longer than any invitation"), where);
  else if (*g_strstrip (line) == '\0')
    g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST, _("%s: no invitation in it"), where);
  else if ((parsed = cpns_invitation_parse (line, &parse_error)) == NULL)
    g_set_error (error, parse_error->domain, parse_error->code,
                 _("%s does not hold a cpns://enroll invitation (%s)"), where,
                 parse_error->message);
  else
    result = g_strdup (line);

out:
  cpns_wipe (line, sizeof line);
  if (!from_stdin)
    g_close (fd, NULL);
  return result;
}
