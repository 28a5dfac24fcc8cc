/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-pne"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "cpns-base64.h"
#include "cpns-ids.h"
#include "pne-credentials.h"

#define FORMAT_VERSION 1
#define MAX_FILE_SIZE  (64 * 1024)
#define TEMP_PREFIX    ".credentials-"

PneCredentials *
pne_credentials_new (void)
{
  return g_new0 (PneCredentials, 1);
}

PneCredentials *
pne_credentials_copy (const PneCredentials *creds)
{
  PneCredentials *copy;

  g_return_val_if_fail (creds != NULL, NULL);

  copy = pne_credentials_new ();
  copy->pn_id = g_strdup (creds->pn_id);
  copy->pne_id = g_strdup (creds->pne_id);
  copy->key_id = g_strdup (creds->key_id);
  memcpy (copy->euk, creds->euk, CPNS_KEY_LEN);
  copy->gateway_id = g_strdup (creds->gateway_id);
  copy->gateway_name = g_strdup (creds->gateway_name);
  copy->gateway_sha256 = g_strdup (creds->gateway_sha256);
  copy->gateway_address = g_strdup (creds->gateway_address);
  copy->name = g_strdup (creds->name);
  copy->entity_type = g_strdup (creds->entity_type);
  copy->services = g_strdupv (creds->services);
  copy->session_id = g_strdup (creds->session_id);
  memcpy (copy->session_key, creds->session_key, CPNS_KEY_LEN);
  copy->session_expires = creds->session_expires;
  return copy;
}

void
pne_credentials_clear_session (PneCredentials *creds)
{
  g_return_if_fail (creds != NULL);

  g_clear_pointer (&creds->session_id, g_free);
  cpns_wipe (creds->session_key, CPNS_KEY_LEN);
  creds->session_expires = 0;
}

void
pne_credentials_free (PneCredentials *creds)
{
  if (creds == NULL)
    return;

  g_free (creds->pn_id);
  g_free (creds->pne_id);
  g_free (creds->key_id);
  cpns_wipe (creds->euk, CPNS_KEY_LEN);
  g_free (creds->gateway_id);
  g_free (creds->gateway_name);
  g_free (creds->gateway_sha256);
  g_free (creds->gateway_address);
  g_free (creds->name);
  g_free (creds->entity_type);
  g_strfreev (creds->services);
  pne_credentials_clear_session (creds);
  g_free (creds);
}

gboolean
pne_credentials_has_live_session (const PneCredentials *creds,
                                  gint64                now)
{
  g_return_val_if_fail (creds != NULL, FALSE);

  return creds->session_id != NULL && now < creds->session_expires;
}

/* ------------------------------------------------------------------ */
/* Text format */

static void
append_field (GString    *out,
              const char *key,
              const char *value)
{
  g_autofree char *escaped = NULL;

  if (value == NULL)
    return;
  escaped = g_strescape (value, NULL);
  g_string_append_printf (out, "%s=%s\n", key, escaped);
}

static void
append_secret (GString      *out,
               const char   *key,
               const guint8  data[CPNS_KEY_LEN])
{
  char *encoded = cpns_base64url_encode (data, CPNS_KEY_LEN);

  g_string_append_printf (out, "%s=%s\n", key, encoded);
  cpns_free_secret_string (encoded);
}

char *
pne_credentials_serialize (const PneCredentials *creds)
{
  GString *out;
  char *text;

  g_return_val_if_fail (creds != NULL, NULL);

  /* Room for everything (the parser refuses files over MAX_FILE_SIZE), so
   * that the buffer is never reallocated: a reallocation would leave copies
   * of the secrets behind unwiped. */
  out = g_string_sized_new (MAX_FILE_SIZE);
  g_string_append (out,
                   "# cpns-pne credentials (PROTOCOL.md §6). Contains secrets: keep mode 0600.\n");
  g_string_append_printf (out, "format=%d\n", FORMAT_VERSION);
  append_field (out, "pn_id", creds->pn_id);
  append_field (out, "pne_id", creds->pne_id);
  append_field (out, "key_id", creds->key_id);
  append_secret (out, "euk", creds->euk);
  append_field (out, "gateway_id", creds->gateway_id);
  append_field (out, "gateway_name", creds->gateway_name);
  append_field (out, "gateway_sha256", creds->gateway_sha256);
  append_field (out, "gateway_address", creds->gateway_address);
  append_field (out, "name", creds->name);
  append_field (out, "entity_type", creds->entity_type);
  for (guint i = 0; creds->services != NULL && creds->services[i] != NULL; i++)
    append_field (out, "service", creds->services[i]);
  if (creds->session_id != NULL)
    {
      g_autoptr(GDateTime) expires = g_date_time_new_from_unix_utc (creds->session_expires);
      g_autofree char *expires_str = NULL;

      if (expires != NULL)
        expires_str = g_date_time_format (expires, "%Y-%m-%dT%H:%M:%SZ");
      append_field (out, "session_id", creds->session_id);
      append_secret (out, "session_key", creds->session_key);
      append_field (out, "session_expires", expires_str);
    }

  text = g_strndup (out->str, out->len);
  cpns_wipe (out->str, out->allocated_len);
  g_string_free (out, TRUE);
  return text;
}

static gboolean
set_error_at (GError    **error,
              const char *origin,
              guint       line,
              const char *what)
{
  if (line > 0)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "Credentials file %s is corrupt (line %u: %s). "
                 "Run “cpns-pne forget” and pair again.", origin, line, what);
  else
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "Credentials file %s is corrupt (%s). "
                 "Run “cpns-pne forget” and pair again.", origin, what);
  return FALSE;
}

static gboolean
parse_time (const char *text,
            gint64     *out)
{
  g_autoptr(GDateTime) time = g_date_time_new_from_iso8601 (text, NULL);

  if (time == NULL)
    return FALSE;
  *out = g_date_time_to_unix (time);
  return TRUE;
}

PneCredentials *
pne_credentials_parse (const char *text,
                       gsize       len,
                       const char *origin,
                       GError    **error)
{
  g_autoptr(PneCredentials) creds = pne_credentials_new ();
  g_autoptr(GPtrArray) services = g_ptr_array_new_with_free_func (g_free);
  gboolean have_euk = FALSE, have_session_key = FALSE, have_format = FALSE;
  gboolean have_expires = FALSE;
  const char *p = text;
  const char *end = text + len;
  guint line_no = 0;

  g_return_val_if_fail (text != NULL, NULL);

  if (memchr (text, '\0', len) != NULL)
    {
      set_error_at (error, origin, 0, "it contains a NUL byte");
      return NULL;
    }

  while (p < end)
    {
      const char *nl = memchr (p, '\n', end - p);
      const char *line_end = nl != NULL ? nl : end;
      char line[2048];
      gsize line_len = line_end - p;
      char *eq;
      const char *key, *raw;
      g_autofree char *value = NULL;

      line_no++;
      if (line_len >= sizeof line)
        {
          set_error_at (error, origin, line_no, "line too long");
          return NULL;
        }
      memcpy (line, p, line_len);
      line[line_len] = '\0';
      p = nl != NULL ? nl + 1 : end;

      if (line_len == 0 || line[0] == '#')
        continue;
      eq = strchr (line, '=');
      if (eq == NULL)
        {
          cpns_wipe (line, sizeof line);
          set_error_at (error, origin, line_no, "expected key=value");
          return NULL;
        }
      *eq = '\0';
      key = line;
      raw = eq + 1;

#define SECRET_FIELD(field_name, dest, flag)                                  \
      if (g_str_equal (key, field_name))                                      \
        {                                                                     \
          gboolean ok_ = cpns_base64url_decode_exact (raw, dest, CPNS_KEY_LEN); \
          cpns_wipe (line, sizeof line);                                      \
          if (!ok_)                                                           \
            {                                                                 \
              set_error_at (error, origin, line_no,                           \
                            field_name " is not 32 bytes of base64url");      \
              return NULL;                                                    \
            }                                                                 \
          flag = TRUE;                                                        \
          continue;                                                           \
        }
      SECRET_FIELD ("euk", creds->euk, have_euk)
      SECRET_FIELD ("session_key", creds->session_key, have_session_key)
#undef SECRET_FIELD

      value = g_strcompress (raw);
      if (!g_utf8_validate (value, -1, NULL))
        {
          set_error_at (error, origin, line_no, "value is not UTF-8");
          return NULL;
        }

#define STRING_FIELD(field_name, dest)                                        \
      if (g_str_equal (key, field_name))                                      \
        {                                                                     \
          g_free (dest);                                                      \
          dest = g_steal_pointer (&value);                                    \
          continue;                                                           \
        }
      STRING_FIELD ("pn_id", creds->pn_id)
      STRING_FIELD ("pne_id", creds->pne_id)
      STRING_FIELD ("key_id", creds->key_id)
      STRING_FIELD ("gateway_id", creds->gateway_id)
      STRING_FIELD ("gateway_name", creds->gateway_name)
      STRING_FIELD ("gateway_sha256", creds->gateway_sha256)
      STRING_FIELD ("gateway_address", creds->gateway_address)
      STRING_FIELD ("name", creds->name)
      STRING_FIELD ("entity_type", creds->entity_type)
      STRING_FIELD ("session_id", creds->session_id)
#undef STRING_FIELD

      if (g_str_equal (key, "service"))
        {
          if (services->len >= 32)
            {
              set_error_at (error, origin, line_no, "more than 32 services");
              return NULL;
            }
          g_ptr_array_add (services, g_steal_pointer (&value));
        }
      else if (g_str_equal (key, "format"))
        {
          if (!g_str_equal (value, "1"))
            {
              set_error_at (error, origin, line_no, "unknown format version");
              return NULL;
            }
          have_format = TRUE;
        }
      else if (g_str_equal (key, "session_expires"))
        {
          if (!parse_time (value, &creds->session_expires))
            {
              set_error_at (error, origin, line_no, "session_expires is not an RFC 3339 time");
              return NULL;
            }
          have_expires = TRUE;
        }
      /* Unknown keys are ignored, as unknown fields are on the wire. */
    }

  if (!have_format)
    return set_error_at (error, origin, 0, "no “format” line"), NULL;
  if (!cpns_id_is_valid (CPNS_ID_PN, creds->pn_id))
    return set_error_at (error, origin, 0, "pn_id missing or invalid"), NULL;
  if (!cpns_id_is_valid (CPNS_ID_PNE, creds->pne_id))
    return set_error_at (error, origin, 0, "pne_id missing or invalid"), NULL;
  if (!cpns_id_is_valid (CPNS_ID_KEY, creds->key_id))
    return set_error_at (error, origin, 0, "key_id missing or invalid"), NULL;
  if (!have_euk)
    return set_error_at (error, origin, 0, "euk missing"), NULL;
  if (!cpns_id_is_valid (CPNS_ID_GATEWAY, creds->gateway_id))
    return set_error_at (error, origin, 0, "gateway_id missing or invalid"), NULL;
  {
    guint8 digest[32];

    if (creds->gateway_sha256 == NULL
        || !cpns_hex_decode_exact (creds->gateway_sha256, digest, sizeof digest))
      return set_error_at (error, origin, 0, "gateway_sha256 missing or invalid"), NULL;
  }
  if (creds->gateway_address == NULL || *creds->gateway_address == '\0')
    return set_error_at (error, origin, 0, "gateway_address missing"), NULL;
  if (creds->name == NULL || creds->entity_type == NULL)
    return set_error_at (error, origin, 0, "name or entity_type missing"), NULL;
  if (creds->session_id != NULL)
    {
      if (!cpns_id_is_valid (CPNS_ID_SESSION, creds->session_id))
        return set_error_at (error, origin, 0, "session_id invalid"), NULL;
      if (!have_session_key || !have_expires)
        return set_error_at (error, origin, 0, "session_key or session_expires missing"), NULL;
    }
  else if (have_session_key)
    {
      /* A key without a session ID is useless: drop it. */
      cpns_wipe (creds->session_key, CPNS_KEY_LEN);
    }

  if (services->len > 0)
    {
      g_ptr_array_add (services, NULL);
      creds->services = (char **) g_ptr_array_steal (services, NULL);
    }
  return g_steal_pointer (&creds);
}

/* ------------------------------------------------------------------ */
/* Files */

gboolean
pne_credentials_ensure_dir (const char *state_dir,
                            GError    **error)
{
  g_return_val_if_fail (state_dir != NULL, FALSE);

  if (g_mkdir_with_parents (state_dir, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Cannot create the state directory %s: %s",
                   state_dir, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

static gboolean
fsync_dir (const char *dir,
           GError    **error)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd < 0 || fsync (fd) != 0)
    {
      int saved = errno;

      if (fd >= 0)
        close (fd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Cannot sync the directory %s: %s", dir, g_strerror (saved));
      return FALSE;
    }
  close (fd);
  return TRUE;
}

static void
remove_leftovers (const char *state_dir)
{
  g_autoptr(GDir) dir = g_dir_open (state_dir, 0, NULL);
  const char *name;

  if (dir == NULL)
    return;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      if (g_str_has_prefix (name, TEMP_PREFIX))
        {
          g_autofree char *path = g_build_filename (state_dir, name, NULL);

          g_debug ("Removing the leftover temporary file %s", path);
          g_unlink (path);
        }
    }
}

PneCredentials *
pne_credentials_load (const char *state_dir,
                      GError    **error)
{
  g_autofree char *path = NULL;
  g_autofree char *pending = NULL;
  char *contents = NULL;
  gsize len = 0;
  g_autoptr(GError) local_error = NULL;
  PneCredentials *creds;
  GStatBuf st;

  g_return_val_if_fail (state_dir != NULL, NULL);

  path = g_build_filename (state_dir, PNE_CREDENTIALS_FILE, NULL);
  pending = g_build_filename (state_dir, PNE_CREDENTIALS_PENDING_FILE, NULL);

  /* A partial pairing (crash before pairing_complete) leaves nothing. */
  if (g_file_test (pending, G_FILE_TEST_EXISTS))
    {
      g_debug ("Discarding the credentials of an unfinished pairing (%s)", pending);
      g_unlink (pending);
    }
  remove_leftovers (state_dir);

  if (g_stat (path, &st) != 0)
    {
      int saved = errno;

      if (saved == ENOENT)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                     "No credentials in %s: this PNE is not paired. "
                     "Run “cpns-pne pair” first.", state_dir);
      else
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                     "Cannot read the credentials file %s: %s", path, g_strerror (saved));
      return NULL;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "Credentials file %s is not a regular file", path);
      return NULL;
    }
  if (st.st_size > MAX_FILE_SIZE)
    {
      set_error_at (error, path, 0, "too large");
      return NULL;
    }
  if ((st.st_mode & 077) != 0)
    g_message ("Credentials file %s is readable by others; fixing its mode to 0600", path);
  if ((st.st_mode & 077) != 0)
    g_chmod (path, 0600);

  if (!g_file_get_contents (path, &contents, &len, &local_error))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "Cannot read the credentials file %s: %s", path, local_error->message);
      return NULL;
    }
  creds = pne_credentials_parse (contents, len, path, error);
  cpns_wipe (contents, len);
  g_free (contents);
  return creds;
}

static gboolean
write_all (int          fd,
           const char  *data,
           gsize        len,
           GError     **error)
{
  while (len > 0)
    {
      gssize n = write (fd, data, len);

      if (n < 0)
        {
          int saved = errno;

          if (saved == EINTR)
            continue;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                       "Cannot write the credentials: %s", g_strerror (saved));
          return FALSE;
        }
      data += n;
      len -= n;
    }
  return TRUE;
}

gboolean
pne_credentials_save (const PneCredentials   *creds,
                      const char             *state_dir,
                      PneCredentialsSaveFlags flags,
                      GError                **error)
{
  g_autofree char *tmp_path = NULL;
  g_autofree char *path = NULL;
  char *text;
  gboolean ok;
  int fd;

  g_return_val_if_fail (creds != NULL, FALSE);
  g_return_val_if_fail (state_dir != NULL, FALSE);

  if (!pne_credentials_ensure_dir (state_dir, error))
    return FALSE;

  path = g_build_filename (state_dir,
                           (flags & PNE_CREDENTIALS_SAVE_PENDING)
                             ? PNE_CREDENTIALS_PENDING_FILE : PNE_CREDENTIALS_FILE,
                           NULL);
  tmp_path = g_build_filename (state_dir, TEMP_PREFIX "XXXXXX", NULL);
  fd = g_mkstemp_full (tmp_path, O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Cannot create a file in %s: %s", state_dir, g_strerror (saved));
      return FALSE;
    }
  /* mkstemp already uses 0600, but the umask must not matter. */
  fchmod (fd, 0600);

  text = pne_credentials_serialize (creds);
  ok = write_all (fd, text, strlen (text), error);
  cpns_free_secret_string (text);
  if (ok && fsync (fd) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Cannot sync %s: %s", tmp_path, g_strerror (saved));
      ok = FALSE;
    }
  if (close (fd) != 0 && ok)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Cannot close %s: %s", tmp_path, g_strerror (saved));
      ok = FALSE;
    }
  if (!ok)
    {
      g_unlink (tmp_path);
      return FALSE;
    }

  if (flags & PNE_CREDENTIALS_SAVE_CRASH_BEFORE_RENAME)
    return TRUE;

  if (g_rename (tmp_path, path) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Cannot replace %s: %s", path, g_strerror (saved));
      g_unlink (tmp_path);
      return FALSE;
    }
  return fsync_dir (state_dir, error);
}

gboolean
pne_credentials_commit_pending (const char *state_dir,
                                GError    **error)
{
  g_autofree char *pending = g_build_filename (state_dir, PNE_CREDENTIALS_PENDING_FILE, NULL);
  g_autofree char *path = g_build_filename (state_dir, PNE_CREDENTIALS_FILE, NULL);

  if (g_rename (pending, path) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Cannot store the credentials in %s: %s", path, g_strerror (saved));
      return FALSE;
    }
  return fsync_dir (state_dir, error);
}

void
pne_credentials_discard_pending (const char *state_dir)
{
  g_autofree char *pending = g_build_filename (state_dir, PNE_CREDENTIALS_PENDING_FILE, NULL);

  if (g_unlink (pending) == 0)
    fsync_dir (state_dir, NULL);
}

gboolean
pne_credentials_delete (const char *state_dir,
                        GError    **error)
{
  g_autofree char *path = g_build_filename (state_dir, PNE_CREDENTIALS_FILE, NULL);

  pne_credentials_discard_pending (state_dir);
  if (g_unlink (path) != 0)
    {
      int saved = errno;

      if (saved == ENOENT)
        return TRUE;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Cannot remove %s: %s", path, g_strerror (saved));
      return FALSE;
    }
  return fsync_dir (state_dir, error);
}

/* ------------------------------------------------------------------ */
/* On a worker thread */

typedef struct
{
  PneCredentials         *creds;   /* NULL: commit the pending file */
  char                   *state_dir;
  PneCredentialsSaveFlags flags;
} SaveJob;

static void
save_job_free (gpointer data)
{
  SaveJob *job = data;

  pne_credentials_free (job->creds);
  g_free (job->state_dir);
  g_free (job);
}

static void
save_in_thread (GTask        *task,
                gpointer      source_object,
                gpointer      task_data,
                GCancellable *cancellable)
{
  SaveJob *job = task_data;
  GError *error = NULL;
  gboolean ok;

  if (job->creds != NULL)
    ok = pne_credentials_save (job->creds, job->state_dir, job->flags, &error);
  else
    ok = pne_credentials_commit_pending (job->state_dir, &error);
  if (ok)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
start_job (SaveJob            *job,
           GCancellable       *cancellable,
           GAsyncReadyCallback callback,
           gpointer            user_data,
           gpointer            source_tag)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, job, save_job_free);
  /* Cancelling must not stop a write half-way: the thread always runs to
   * the end; the caller decides what the result means. */
  g_task_set_return_on_cancel (task, FALSE);
  g_task_run_in_thread (task, save_in_thread);
}

void
pne_credentials_save_async (const PneCredentials   *creds,
                            const char             *state_dir,
                            PneCredentialsSaveFlags flags,
                            GCancellable           *cancellable,
                            GAsyncReadyCallback     callback,
                            gpointer                user_data)
{
  SaveJob *job;

  g_return_if_fail (creds != NULL);
  g_return_if_fail (state_dir != NULL);

  job = g_new0 (SaveJob, 1);
  job->creds = pne_credentials_copy (creds);
  job->state_dir = g_strdup (state_dir);
  job->flags = flags;
  start_job (job, cancellable, callback, user_data, pne_credentials_save_async);
}

gboolean
pne_credentials_save_finish (GAsyncResult *result,
                             GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
pne_credentials_commit_pending_async (const char         *state_dir,
                                      GCancellable       *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer            user_data)
{
  SaveJob *job;

  g_return_if_fail (state_dir != NULL);

  job = g_new0 (SaveJob, 1);
  job->state_dir = g_strdup (state_dir);
  start_job (job, cancellable, callback, user_data, pne_credentials_commit_pending_async);
}

gboolean
pne_credentials_commit_pending_finish (GAsyncResult *result,
                                       GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
