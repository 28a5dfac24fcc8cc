/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Security (issue 7, item 8): no key material leaks. A full run (enroll,
 * pair, connect, resume, re-key, revoke) with G_MESSAGES_DEBUG=all,
 * SSLKEYLOGFILE and GnuTLS debugging set; then every output (stderr of the
 * server and the gateway, the gateway's events, the PNE's output) and every
 * file under the run's directories and XDG dirs is scanned for every
 * secret the test can learn: the gateway secret and TLS key (from the
 * keyring, with secret-tool), the PNE's EUKs and session keys (from its
 * credentials file, the one place they may be), the enrollment code. Each
 * in raw, hex and base64url: 0 hits, and no keylog file.
 *
 * The server's database is the place §6 gives the EUK and the gateway
 * secret on the server side, so there only session keys and the
 * enrollment code are looked for.
 *
 * Without a Secret Service the gateway refuses to enroll with
 * no_secret_service and writes nothing secret. */
#define _GNU_SOURCE
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cpns-base64.h"
#include "cpns-crypto.h"
#include "gw-test-fixture.h"

typedef struct
{
  char   *label;
  GBytes *raw;
  gboolean server_may_hold;   /* §6: the server's database holds it */
} Secret;

static void
secret_free (gpointer data)
{
  Secret *s = data;
  gsize len;
  gpointer bytes = g_bytes_unref_to_data (s->raw, &len);

  cpns_wipe (bytes, len);
  g_free (bytes);
  g_free (s->label);
  g_free (s);
}

static void
add_secret (GPtrArray    *secrets,
            const char   *label,
            const guint8 *data,
            gsize         len,
            gboolean      server_may_hold)
{
  Secret *s = g_new0 (Secret, 1);

  s->label = g_strdup (label);
  s->raw = g_bytes_new (data, len);
  s->server_may_hold = server_may_hold;
  g_ptr_array_add (secrets, s);
}

static void
add_b64_secret (GPtrArray  *secrets,
                const char *label,
                const char *b64,
                gboolean    server_may_hold)
{
  guint8 raw[32];

  g_assert_nonnull (b64);
  g_assert_true (cpns_base64url_decode_exact (b64, raw, 32));
  add_secret (secrets, label, raw, 32, server_may_hold);
  cpns_wipe (raw, 32);
}

/* The forms a secret could take in text. */
static GPtrArray *
needles_of (Secret *s)
{
  GPtrArray *needles = g_ptr_array_new_with_free_func (g_free);
  gsize len;
  const guint8 *raw = g_bytes_get_data (s->raw, &len);
  g_autofree char *b64url = cpns_base64url_encode (raw, len);
  g_autofree char *b64 = g_base64_encode (raw, len);
  GString *hex = g_string_new (NULL);

  g_ptr_array_add (needles, g_memdup2 (raw, len));
  for (gsize i = 0; i < len; i++)
    g_string_append_printf (hex, "%02x", raw[i]);
  g_ptr_array_add (needles, g_ascii_strup (hex->str, -1));
  g_ptr_array_add (needles, g_string_free (hex, FALSE));
  /* The first 40 characters: the same whatever the padding or line breaks. */
  g_ptr_array_add (needles, g_strndup (b64url, MIN (strlen (b64url), 40)));
  g_ptr_array_add (needles, g_strndup (b64, MIN (strlen (b64), 40)));
  return needles;
}

static gboolean
contains (const guint8 *hay,
          gsize         hay_len,
          const guint8 *needle,
          gsize         needle_len)
{
  if (needle_len == 0 || hay_len < needle_len)
    return FALSE;
  return memmem (hay, hay_len, needle, needle_len) != NULL;
}

/* Hits of every secret in @data. */
static guint
scan_bytes (GPtrArray    *secrets,
            const char   *where,
            const guint8 *data,
            gsize         len,
            gboolean      server_db)
{
  guint hits = 0;

  for (guint i = 0; i < secrets->len; i++)
    {
      Secret *s = secrets->pdata[i];
      g_autoptr(GPtrArray) needles = NULL;
      gsize raw_len;

      if (server_db && s->server_may_hold)
        continue;
      needles = needles_of (s);
      g_bytes_get_data (s->raw, &raw_len);
      for (guint j = 0; j < needles->len; j++)
        {
          gsize n = j == 0 ? raw_len : strlen (needles->pdata[j]);

          if (contains (data, len, needles->pdata[j], n))
            {
              g_test_message ("LEAK: %s found in %s (form %u)", s->label, where, j);
              hits++;
            }
        }
    }
  return hits;
}

static guint
scan_tree (GPtrArray  *secrets,
           const char *path,
           const char *exclude,
           guint      *files)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;
  guint hits = 0;

  if (dir == NULL)
    {
      g_autofree char *data = NULL;
      gsize len = 0;
      gboolean server_db;

      if (g_strcmp0 (path, exclude) == 0 || !g_file_get_contents (path, &data, &len, NULL))
        return 0;
      (*files)++;
      server_db = strstr (path, "/server/") != NULL && strstr (path, ".db") != NULL;
      return scan_bytes (secrets, path, (const guint8 *) data, len, server_db);
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (!g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        hits += scan_tree (secrets, child, exclude, files);
    }
  return hits;
}

/* secret-tool search output: the "secret = …" line of @schema. */
static char *
keyring_secret (const char *schema)
{
  g_autofree char *cmd = g_strdup_printf ("secret-tool search --all --unlock xdg:schema %s", schema);
  g_autofree char *out = NULL, *err = NULL;
  g_auto(GStrv) lines = NULL;
  int status = 0;
  GString *value = NULL;

  g_assert_true (g_spawn_command_line_sync (cmd, &out, &err, &status, NULL));
  lines = g_strsplit (out ? out : "", "\n", -1);
  for (guint i = 0; lines[i]; i++)
    {
      if (g_str_has_prefix (lines[i], "secret = "))
        value = g_string_new (lines[i] + strlen ("secret = "));
      else if (value && (g_str_has_prefix (lines[i], "attribute.") || g_str_has_prefix (lines[i], "label =") ||
                         g_str_has_prefix (lines[i], "created =") || g_str_has_prefix (lines[i], "modified =") ||
                         g_str_has_prefix (lines[i], "schema =") || g_str_has_prefix (lines[i], "[")))
        break;
      else if (value)
        g_string_append_printf (value, "\n%s", lines[i]);
    }
  if (out)
    cpns_wipe (out, strlen (out));
  return value ? g_string_free (value, FALSE) : NULL;
}

static void
test_full_run (void)
{
  g_autoptr(GPtrArray) secrets = g_ptr_array_new_with_free_func (secret_free);
  const char *extra[] = { "--confirm-pairing", "always", "--approve", "always", NULL };
  g_autofree char *stderr_path = NULL;
  g_autofree char *keylog = NULL;
  g_autofree char *pne_id = NULL;
  g_autofree char *creds_path = NULL;
  g_autofree char *gw_secret_text = NULL;
  g_autofree char *tls_key = NULL;
  g_autofree char *run_dir = NULL;
  g_autoptr(TPne) connected = NULL;
  g_autoptr(GString) outputs = g_string_new (NULL);
  Fixture fx = { 0 };
  guint hits = 0, files = 0;
  int saved_stderr, fd;
  char *p;

  /* Maximal logging everywhere. */
  g_autofree char *base = t_tmpdir ();
  keylog = g_build_filename (base, "keylog.txt", NULL);
  g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);
  g_setenv ("SSLKEYLOGFILE", keylog, TRUE);
  g_setenv ("GNUTLS_DEBUG_LEVEL", "99", TRUE);
  g_setenv ("G_TLS_GNUTLS_DEBUG", "1", TRUE);
  /* Everything the programs write to stderr lands in one file. */
  stderr_path = g_build_filename (base, "stderr.txt", NULL);
  fd = open (stderr_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  g_assert_cmpint (fd, >=, 0);
  saved_stderr = dup (2);
  dup2 (fd, 2);
  close (fd);

  fixture_start (&fx, extra);
  /* Pair, full connection setup, resume, then stay connected. */
  g_assert_cmpint (pne_pair (&fx, fx.pne_dir), ==, 0);
  pne_id = t_pne_credential (fx.pne_dir, "pne_id");
  add_b64_secret (secrets, "EUK (first key)", p = t_pne_credential (fx.pne_dir, "euk"), TRUE);
  g_free (p);
  g_assert_cmpint (t_pne_run (PNE_TIMEOUT_MS, "connect", "--once", "--state-dir", fx.pne_dir, NULL), ==, 0);
  add_b64_secret (secrets, "session key (setup)", p = t_pne_credential (fx.pne_dir, "session_key"), FALSE);
  g_free (p);
  g_assert_cmpint (t_pne_run (PNE_TIMEOUT_MS, "connect", "--once", "--state-dir", fx.pne_dir, NULL), ==, 0);
  g_assert_nonnull (t_gateway_wait_step (fx.gw, "5b", "done", PNE_TIMEOUT_MS));
  /* A second full setup (new session key). */
  t_pne_forget_session (fx.pne_dir);
  g_assert_cmpint (t_pne_run (PNE_TIMEOUT_MS, "connect", "--once", "--state-dir", fx.pne_dir, NULL), ==, 0);
  add_b64_secret (secrets, "session key (second setup)", p = t_pne_credential (fx.pne_dir, "session_key"), FALSE);
  g_free (p);

  /* Re-key (§5.3 over CPNS-1: delivered when the device pairs again). */
  {
    g_autofree char *line = g_strdup_printf ("rekey %s", pne_id);
    g_autofree char *before = t_pne_credential (fx.pne_dir, "key_id");
    g_autofree char *after = NULL;

    t_gateway_send (fx.gw, line);
    t_sleep (300);
    g_assert_cmpint (pne_pair (&fx, fx.pne_dir), ==, 0);
    after = t_pne_credential (fx.pne_dir, "key_id");
    g_assert_cmpstr (after, !=, before);
    add_b64_secret (secrets, "EUK (after rekey)", p = t_pne_credential (fx.pne_dir, "euk"), TRUE);
    g_free (p);
  }

  /* Connected with the new key, then revoked. */
  connected = t_pne_spawn ("connect", "--state-dir", fx.pne_dir, NULL);
  for (int i = 0; i < 200; i++)
    {
      g_autofree char *key = t_pne_credential (fx.pne_dir, "session_key");

      if (key != NULL)
        break;
      t_sleep (100);
    }
  add_b64_secret (secrets, "session key (new key)", p = t_pne_credential (fx.pne_dir, "session_key"), FALSE);
  g_free (p);

  /* Revoke on the server: the gateway drops the PNE. */
  g_assert_cmpint (t_server_cli (fx.server, "entity", "revoke", "alice", pne_id, NULL), ==, 0);
  t_pne_wait (connected, 15000);
  g_string_append_len (outputs, g_bytes_get_data (connected->stdout_bytes, NULL),
                       g_bytes_get_size (connected->stdout_bytes));

  /* The gateway's secrets, from the keyring. */
  gw_secret_text = keyring_secret ("io.github.cpns.Gateway.GatewaySecret");
  g_assert_nonnull (gw_secret_text);
  g_strstrip (gw_secret_text);
  if (strlen (gw_secret_text) == 43)
    add_b64_secret (secrets, "gateway secret", gw_secret_text, TRUE);
  else
    add_secret (secrets, "gateway secret (as stored)", (const guint8 *) gw_secret_text,
                strlen (gw_secret_text), TRUE);
  tls_key = keyring_secret ("io.github.cpns.Gateway.TlsKey");
  if (tls_key)
    {
      /* A full line of the PEM body. */
      g_auto(GStrv) lines = g_strsplit (tls_key, "\n", -1);

      for (guint i = 0; lines[i]; i++)
        if (strlen (lines[i]) >= 40 && !g_str_has_prefix (lines[i], "-----"))
          {
            add_secret (secrets, "gateway TLS private key (PEM line)", (const guint8 *) lines[i],
                        strlen (lines[i]), FALSE);
            break;
          }
    }

  /* The gateway's events, as it printed them. */
  for (guint i = 0; i < fx.gw->events->len; i++)
    {
      g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), fx.gw->events->pdata[i]);
      g_autofree char *text = json_to_string (node, FALSE);

      g_string_append_printf (outputs, "%s\n", text);
    }
  run_dir = g_strdup (fx.dir);
  creds_path = g_build_filename (fx.pne_dir, "credentials", NULL);
  fixture_stop (&fx);
  fflush (stderr);
  dup2 (saved_stderr, 2);
  close (saved_stderr);

  /* The debug logging did reach the file that is scanned. */
  {
    g_autofree char *stderr_text = NULL;

    g_assert_true (g_file_get_contents (stderr_path, &stderr_text, NULL, NULL));
    g_test_message ("stderr of the run: %zu bytes", strlen (stderr_text));
    g_assert_cmpuint (strlen (stderr_text), >, 0);
  }

  /* Outputs: the gateway's events, the PNE's output. */
  hits += scan_bytes (secrets, "events and PNE output", (const guint8 *) outputs->str, outputs->len, FALSE);
  /* Every file of the run (stderr included), but the PNE's credentials. */
  hits += scan_tree (secrets, base, creds_path, &files);
  hits += scan_tree (secrets, run_dir, creds_path, &files);
  if (g_getenv ("XDG_DATA_HOME"))
    hits += scan_tree (secrets, g_getenv ("XDG_DATA_HOME"), creds_path, &files);

  g_print ("# FIGURE no key material leaks: %u secrets x 5 forms, %u files scanned, %u hits; keylog file %s\n",
           secrets->len, files, hits, g_file_test (keylog, G_FILE_TEST_EXISTS) ? "WRITTEN" : "absent");
  g_assert_cmpuint (hits, ==, 0);
  g_assert_false (g_file_test (keylog, G_FILE_TEST_EXISTS));
  g_unsetenv ("SSLKEYLOGFILE");
  g_unsetenv ("GNUTLS_DEBUG_LEVEL");
}

/* Tokens of 43 base64url characters (the shape of a 32-byte secret). */
static guint
count_key_shaped (const char *path,
                  guint      *files)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  g_autoptr(GRegex) re = g_regex_new ("(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])", G_REGEX_RAW, 0, NULL);
  const char *name;
  guint hits = 0;

  if (dir == NULL)
    {
      g_autofree char *data = NULL;
      gsize len = 0;
      g_autoptr(GMatchInfo) match = NULL;

      if (!g_file_get_contents (path, &data, &len, NULL))
        return 0;
      (*files)++;
      g_regex_match_full (re, data, (gssize) len, 0, 0, &match, NULL);
      while (g_match_info_matches (match))
        {
          hits++;
          g_match_info_next (match, NULL);
        }
      return hits;
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      hits += count_key_shaped (child, files);
    }
  return hits;
}

/* No Secret Service: enrollment refused with no_secret_service, nothing
 * secret written; the code was not used up (a later enrollment with a
 * keyring succeeds with the same invitation). */
static void
test_no_secret_service (void)
{
  g_autofree char *dir = t_tmpdir ();
  g_autofree char *srv_dir = g_build_filename (dir, "server", NULL);
  g_autofree char *gw_dir = g_build_filename (dir, "gateway", NULL);
  g_autofree char *gw_dir2 = g_build_filename (dir, "gateway2", NULL);
  g_autofree char *saved_bus = g_strdup (g_getenv ("DBUS_SESSION_BUS_ADDRESS"));
  g_autoptr(TServer) server = t_server_start (srv_dir, 0);
  g_autofree char *invitation = t_server_invite (server, "alice");
  const char *extra[] = { "--enroll", invitation, NULL };
  g_autoptr(TGateway) gw = NULL;
  g_autoptr(TGateway) gw2 = NULL;
  JsonObject *e;
  const char *code;
  guint files = 0, shaped;
  gint64 start;

  g_setenv ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/cpns-no-bus", TRUE);
  gw = t_gateway_start (gw_dir, extra);
  start = g_get_monotonic_time ();
  e = t_gateway_wait_type (gw, "enrollment", 20000);
  g_setenv ("DBUS_SESSION_BUS_ADDRESS", saved_bus, TRUE);
  g_assert_nonnull (e);
  g_assert_true (json_object_has_member (e, "error"));
  code = json_object_get_string_member (json_object_get_object_member (e, "error"), "code");
  g_assert_cmpstr (code, ==, "no_secret_service");
  g_test_message ("no Secret Service: %s", json_object_get_string_member (json_object_get_object_member (e, "error"),
                                                                          "message"));
  t_gateway_kill (gw);
  shaped = count_key_shaped (gw_dir, &files);
  g_print ("# FIGURE no Secret Service: enrollment refused (%s) after %" G_GINT64_FORMAT " ms;"
           " %u key-shaped strings in %u gateway files\n", code, (g_get_monotonic_time () - start) / 1000,
           shaped, files);
  g_assert_cmpuint (shaped, ==, 0);

  /* With a keyring the same invitation works: nothing was consumed. */
  gw2 = t_gateway_start (gw_dir2, extra);
  e = t_gateway_wait_type (gw2, "enrollment", 20000);
  g_assert_nonnull (e);
  g_assert_false (json_object_has_member (e, "error"));
  g_assert_cmpint (t_gateway_stop (gw2), ==, 0);
  t_server_stop (server);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/security/leaks/full-run", test_full_run);
  g_test_add_func ("/security/leaks/no-secret-service", test_no_secret_service);
  return g_test_run ();
}
