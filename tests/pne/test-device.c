/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-device"

#include "config.h"

#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "cpns.h"
#include "fake-gateway.h"
#include "pne-device.h"

typedef struct
{
  FakeGateway *fake;
  char        *dir;
  PneDevice   *device;
  GPtrArray   *steps;
  GPtrArray   *codes;
  gboolean     done;
  gboolean     ok;
  GError      *error;
  gboolean     disconnected;
  GError      *disconnect_error;
  gboolean     reject_code;
} Fixture;

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir == NULL)
    return;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

static void
on_progress (PneDevice  *device,
             const char *step,
             const char *message,
             JsonObject *details,
             gpointer    user_data)
{
  Fixture *f = user_data;

  g_ptr_array_add (f->steps, g_strdup (step));
}

static void
on_code (PneDevice  *device,
         const char *code,
         gpointer    user_data)
{
  Fixture *f = user_data;

  g_ptr_array_add (f->codes, g_strdup (code));
  if (f->reject_code)
    pne_device_answer_code (device, FALSE);
}

static void
on_disconnected (PneDevice    *device,
                 const GError *error,
                 gpointer      user_data)
{
  Fixture *f = user_data;

  f->disconnected = TRUE;
  g_clear_error (&f->disconnect_error);
  if (error != NULL)
    f->disconnect_error = g_error_copy (error);
}

static PneDevice *
new_device (Fixture    *f,
            const char *state_dir)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) entity = NULL;
  const char *services[] = { "temperature:coap:5683", NULL };
  PneDevice *device = pne_device_new (state_dir);
  PneTimeouts timeouts;

  entity = pne_entity_new ("Kitchen Sensor", "sensor", "ACME", "T-1", "0001", services, &error);
  g_assert_no_error (error);
  pne_device_set_entity (device, entity);
  pne_device_get_timeouts (device, &timeouts);
  timeouts.reply_ms = 5000;
  timeouts.key_wait_ms = 5000;
  timeouts.human_ms = 5000;
  timeouts.connect_ms = 5000;
  timeouts.discovery_ms = 5000;
  pne_device_set_timeouts (device, &timeouts);
  g_signal_connect (device, "progress", G_CALLBACK (on_progress), f);
  g_signal_connect (device, "pairing-code", G_CALLBACK (on_code), f);
  g_signal_connect (device, "disconnected", G_CALLBACK (on_disconnected), f);
  return device;
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->fake = fake_gateway_new ();
  f->dir = g_dir_make_tmp ("pne-device-XXXXXX", &error);
  g_assert_no_error (error);
  f->steps = g_ptr_array_new_with_free_func (g_free);
  f->codes = g_ptr_array_new_with_free_func (g_free);
  f->device = new_device (f, f->dir);
  pne_device_set_gateway_address (f->device, fake_gateway_get_address (f->fake));
}

static void
drain (void)
{
  /* Let closes and idles finish. */
  for (guint i = 0; i < 50; i++)
    g_main_context_iteration (NULL, FALSE);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_object (&f->device);
  drain ();
  fake_gateway_free (f->fake);
  drain ();
  remove_tree (f->dir);
  g_free (f->dir);
  g_ptr_array_unref (f->steps);
  g_ptr_array_unref (f->codes);
  g_clear_error (&f->error);
  g_clear_error (&f->disconnect_error);
}

static gboolean
on_deadline (gpointer user_data)
{
  g_error ("test deadline passed");
  return G_SOURCE_REMOVE;
}

static void
wait_for (gboolean *flag)
{
  guint deadline = g_timeout_add_seconds (20, on_deadline, NULL);

  while (!*flag)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (deadline);
}

static void
on_pair_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Fixture *f = user_data;

  g_clear_error (&f->error);
  f->ok = pne_device_pair_finish (PNE_DEVICE (source), result, &f->error);
  f->done = TRUE;
}

static void
on_connect_done (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Fixture *f = user_data;

  g_clear_error (&f->error);
  f->ok = pne_device_connect_finish (PNE_DEVICE (source), result, &f->error);
  f->done = TRUE;
}

static gboolean
pair (Fixture *f)
{
  f->done = FALSE;
  pne_device_pair_async (f->device, NULL, on_pair_done, f);
  wait_for (&f->done);
  drain ();
  return f->ok;
}

static gboolean
connect_device (Fixture *f)
{
  f->done = FALSE;
  pne_device_connect_async (f->device, NULL, on_connect_done, f);
  wait_for (&f->done);
  return f->ok;
}

static void
disconnect_device (Fixture *f)
{
  f->disconnected = FALSE;
  pne_device_disconnect (f->device);
  wait_for (&f->disconnected);
  g_assert_no_error (f->disconnect_error);
  drain ();
}

static gboolean
has_step (Fixture    *f,
          const char *step)
{
  for (guint i = 0; i < f->steps->len; i++)
    if (g_str_equal (g_ptr_array_index (f->steps, i), step))
      return TRUE;
  return FALSE;
}

static gboolean
file_exists (Fixture    *f,
             const char *name)
{
  g_autofree char *path = g_build_filename (f->dir, name, NULL);

  return g_file_test (path, G_FILE_TEST_EXISTS);
}

/* ------------------------------------------------------------------ */

static void
test_pair_and_connect (Fixture       *f,
                       gconstpointer  data)
{
  FakeRecord *rec = fake_gateway_get_record (f->fake);
  g_autoptr(PneCredentials) creds = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (f->dir, PNE_CREDENTIALS_FILE, NULL);
  GStatBuf st;

  g_assert_true (pair (f));
  g_assert_no_error (f->error);

  /* Both sides derived the same code from their own exporter and nonces. */
  g_assert_cmpuint (f->codes->len, ==, 1);
  g_assert_nonnull (rec->code);
  g_assert_cmpstr (g_ptr_array_index (f->codes, 0), ==, rec->code);
  g_assert_cmpuint (strlen (rec->code), ==, 7);
  g_assert_true (rec->key_confirm_ok);
  g_assert_false (rec->has_credentials_seen);

  /* Durable credentials, 0600, holding what the gateway assigned. */
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_false (file_exists (f, PNE_CREDENTIALS_PENDING_FILE));
  creds = pne_credentials_load (f->dir, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (creds->pne_id, ==, rec->last_pne_id);
  g_assert_cmpstr (creds->gateway_id, ==, fake_gateway_get_gateway_id (f->fake));
  g_assert_cmpstr (creds->gateway_sha256, ==, fake_gateway_get_cert_sha256 (f->fake));
  g_assert_null (creds->session_id);

  /* Steps 4–5. */
  g_assert_true (connect_device (f));
  g_assert_no_error (f->error);
  g_assert_true (rec->pne_proof_ok);
  g_assert_true (rec->pne_confirm_ok);
  g_assert_true (pne_device_is_connected (f->device));
  g_assert_false (pne_device_get_resumed (f->device));
  g_assert_true (has_step (f, "server_authenticated"));
  g_assert_true (has_step (f, "session_key_confirmed"));
  g_assert_true (has_step (f, "connected"));

  /* The session is stored for resuming. */
  g_clear_pointer (&creds, pne_credentials_free);
  creds = pne_credentials_load (f->dir, &error);
  g_assert_no_error (error);
  g_assert_nonnull (creds->session_id);
  g_assert_true (pne_credentials_has_live_session (creds, g_get_real_time () / G_USEC_PER_SEC));

  disconnect_device (f);
  g_assert_true (fake_record_has (rec, "bye"));
}

static void
test_resume (Fixture       *f,
             gconstpointer  data)
{
  FakeRecord *rec = fake_gateway_get_record (f->fake);
  g_autoptr(PneCredentials) first = NULL;
  g_autoptr(PneCredentials) second = NULL;

  g_assert_true (pair (f));
  g_assert_true (connect_device (f));
  disconnect_device (f);
  first = pne_credentials_load (f->dir, NULL);

  /* A live session: PSK resume, no new authentication. */
  g_ptr_array_set_size (rec->received, 0);
  g_assert_true (connect_device (f));
  g_assert_no_error (f->error);
  g_assert_true (pne_device_get_resumed (f->device));
  g_assert_cmpuint (rec->n_psk, ==, 1);
  g_assert_true (fake_record_has (rec, "session_resume_request"));
  g_assert_false (fake_record_has (rec, "connection_setup_request"));
  disconnect_device (f);

  /* The gateway forgot the session: the PSK handshake fails and the PNE
   * runs a full connection setup instead. */
  fake_gateway_forget_sessions (f->fake);
  g_ptr_array_set_size (rec->received, 0);
  g_assert_true (connect_device (f));
  g_assert_no_error (f->error);
  g_assert_false (pne_device_get_resumed (f->device));
  g_assert_true (has_step (f, "resume_failed"));
  g_assert_true (fake_record_has (rec, "connection_setup_request"));
  second = pne_credentials_load (f->dir, NULL);
  g_assert_cmpstr (first->session_id, !=, second->session_id);
  disconnect_device (f);
}

static void
test_commitment_mismatch (Fixture       *f,
                          gconstpointer  data)
{
  FakeRecord *rec = fake_gateway_get_record (f->fake);

  fake_gateway_set_flags (f->fake, FAKE_BAD_COMMITMENT);
  g_assert_false (pair (f));
  g_assert_error (f->error, CPNS_ERROR, CPNS_ERROR_AUTH_FAILED);
  g_assert_true (fake_record_has (rec, "error:auth_failed"));
  /* No code is shown for a mismatched commitment. */
  g_assert_cmpuint (f->codes->len, ==, 0);
  g_assert_false (file_exists (f, PNE_CREDENTIALS_FILE));
  g_assert_false (file_exists (f, PNE_CREDENTIALS_PENDING_FILE));
}

static void
test_wrong_cert_in_response (Fixture       *f,
                             gconstpointer  data)
{
  FakeRecord *rec = fake_gateway_get_record (f->fake);

  fake_gateway_set_flags (f->fake, FAKE_WRONG_CERT_IN_RESPONSE);
  g_assert_false (pair (f));
  g_assert_error (f->error, CPNS_ERROR, CPNS_ERROR_AUTH_FAILED);
  g_assert_true (fake_record_has (rec, "error:auth_failed"));
  g_assert_false (fake_record_has (rec, "pne_id_request"));
  g_assert_false (file_exists (f, PNE_CREDENTIALS_FILE));
}

static void
test_key_without_complete (Fixture       *f,
                           gconstpointer  data)
{
  FakeRecord *rec = fake_gateway_get_record (f->fake);

  fake_gateway_set_flags (f->fake, FAKE_SKIP_PAIRING_COMPLETE);
  g_assert_false (pair (f));
  g_assert_error (f->error, CPNS_ERROR, CPNS_ERROR_CLOSED);
  /* The key was received and confirmed… */
  g_assert_true (rec->key_confirm_ok);
  /* …but without pairing_complete nothing is kept. */
  g_assert_false (file_exists (f, PNE_CREDENTIALS_FILE));
  g_assert_false (file_exists (f, PNE_CREDENTIALS_PENDING_FILE));
  {
    g_autoptr(GError) error = NULL;

    g_assert_null (pne_credentials_load (f->dir, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  }
}

static void
test_closed_while_storing_key (Fixture       *f,
                               gconstpointer  data)
{
  gint64 until;

  /* The connection goes while the key is being written on the worker
   * thread: whatever the order, nothing is left. */
  fake_gateway_set_flags (f->fake, FAKE_CLOSE_AFTER_KEY);
  g_assert_false (pair (f));
  g_assert_error (f->error, CPNS_ERROR, CPNS_ERROR_CLOSED);
  until = g_get_monotonic_time () + G_USEC_PER_SEC / 2;
  while (g_get_monotonic_time () < until)
    g_main_context_iteration (NULL, FALSE);
  g_assert_false (file_exists (f, PNE_CREDENTIALS_FILE));
  g_assert_false (file_exists (f, PNE_CREDENTIALS_PENDING_FILE));
}

static void
test_reply_timeout (Fixture       *f,
                    gconstpointer  data)
{
  FakeRecord *rec = fake_gateway_get_record (f->fake);
  PneTimeouts timeouts;

  pne_device_get_timeouts (f->device, &timeouts);
  timeouts.reply_ms = 300;
  pne_device_set_timeouts (f->device, &timeouts);
  fake_gateway_set_flags (f->fake, FAKE_SILENT);
  g_assert_false (pair (f));
  g_assert_error (f->error, CPNS_ERROR, CPNS_ERROR_TIMEOUT);
  /* §4.1: the waiting side sends timeout, then closes. */
  g_assert_true (fake_record_has (rec, "error:timeout"));
}

static void
test_reject_locally (Fixture       *f,
                     gconstpointer  data)
{
  FakeRecord *rec = fake_gateway_get_record (f->fake);

  f->reject_code = TRUE;
  pne_device_set_confirm_locally (f->device, TRUE);
  g_assert_false (pair (f));
  g_assert_error (f->error, CPNS_ERROR, CPNS_ERROR_REJECTED);
  g_assert_true (fake_record_has (rec, "error:rejected"));
  /* The pairing_response held back was never acted on. */
  g_assert_false (fake_record_has (rec, "pne_id_request"));
  g_assert_false (file_exists (f, PNE_CREDENTIALS_FILE));
}

static void
test_skip_3a (Fixture       *f,
              gconstpointer  data)
{
  FakeRecord *rec = fake_gateway_get_record (f->fake);
  g_autoptr(PneCredentials) before = NULL;
  g_autoptr(PneCredentials) after = NULL;

  g_assert_true (pair (f));
  before = pne_credentials_load (f->dir, NULL);
  g_ptr_array_set_size (rec->received, 0);

  /* Pairing again with credentials: no new ID, no new key. */
  g_assert_true (pair (f));
  g_assert_no_error (f->error);
  g_assert_true (rec->has_credentials_seen);
  g_assert_false (fake_record_has (rec, "pne_id_request"));
  g_assert_false (fake_record_has (rec, "key_assignment_response"));
  g_assert_true (has_step (f, "credentials_accepted"));
  after = pne_credentials_load (f->dir, NULL);
  g_assert_cmpstr (before->pne_id, ==, after->pne_id);
  g_assert_cmpmem (before->euk, CPNS_KEY_LEN, after->euk, CPNS_KEY_LEN);

  /* Not accepted: discarded, and a new ID and key. */
  fake_gateway_set_flags (f->fake, FAKE_REJECT_CREDENTIALS);
  g_ptr_array_set_size (rec->received, 0);
  g_assert_true (pair (f));
  g_assert_true (fake_record_has (rec, "pne_id_request"));
  g_clear_pointer (&after, pne_credentials_free);
  after = pne_credentials_load (f->dir, NULL);
  g_assert_cmpstr (before->pne_id, !=, after->pne_id);
}

static void
test_pin_mismatch (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(FakeGateway) impostor = fake_gateway_new ();
  FakeRecord *rec = fake_gateway_get_record (impostor);

  g_assert_true (pair (f));

  /* Another gateway (another certificate) at the stored address. */
  pne_device_set_gateway_address (f->device, fake_gateway_get_address (impostor));
  g_assert_false (connect_device (f));
  g_assert_error (f->error, CPNS_ERROR, CPNS_ERROR_PIN_MISMATCH);
  g_assert_true (has_step (f, "pin_mismatch"));
  drain ();
  /* The impostor got a TCP connection but not one frame. */
  g_assert_cmpuint (rec->n_accepted, ==, 1);
  g_assert_cmpuint (rec->received->len, ==, 0);
  /* The credentials are kept. */
  g_assert_true (file_exists (f, PNE_CREDENTIALS_FILE));
}

static void
test_server_proof (Fixture       *f,
                   gconstpointer  data)
{
  FakeRecord *rec = fake_gateway_get_record (f->fake);

  g_assert_true (pair (f));
  fake_gateway_set_flags (f->fake, FAKE_WRONG_SERVER_PROOF);
  g_assert_false (connect_device (f));
  g_assert_error (f->error, CPNS_ERROR, CPNS_ERROR_SERVER_AUTH_FAILED);
  drain ();
  g_assert_true (fake_record_has (rec, "error:server_auth_failed"));
  g_assert_false (fake_record_has (rec, "auth_response"));
  g_assert_true (file_exists (f, PNE_CREDENTIALS_FILE));
}

static void
test_ack_mac (Fixture       *f,
              gconstpointer  data)
{
  FakeRecord *rec = fake_gateway_get_record (f->fake);
  g_autoptr(PneCredentials) creds = NULL;

  g_assert_true (pair (f));
  fake_gateway_set_flags (f->fake, FAKE_WRONG_ACK_MAC);
  g_assert_false (connect_device (f));
  g_assert_error (f->error, CPNS_ERROR, CPNS_ERROR_AUTH_FAILED);
  drain ();
  /* Our own confirmation was right; theirs was not. */
  g_assert_true (rec->pne_confirm_ok);
  g_assert_true (fake_record_has (rec, "error:auth_failed"));
  creds = pne_credentials_load (f->dir, NULL);
  g_assert_nonnull (creds);
  g_assert_null (creds->session_id);
}

static void
test_pending_then_allow (Fixture       *f,
                         gconstpointer  data)
{
  g_assert_true (pair (f));
  fake_gateway_set_flags (f->fake, FAKE_ASK);
  g_assert_true (connect_device (f));
  g_assert_no_error (f->error);
  g_assert_true (has_step (f, "authorization_pending"));
  disconnect_device (f);
}

static void
test_approval_timeout (Fixture       *f,
                       gconstpointer  data)
{
  FakeRecord *rec = fake_gateway_get_record (f->fake);
  PneTimeouts timeouts;

  g_assert_true (pair (f));
  pne_device_get_timeouts (f->device, &timeouts);
  timeouts.human_ms = 300;
  pne_device_set_timeouts (f->device, &timeouts);
  fake_gateway_set_flags (f->fake, FAKE_ASK_FOREVER);
  g_assert_false (connect_device (f));
  g_assert_error (f->error, CPNS_ERROR, CPNS_ERROR_TIMEOUT);
  g_assert_true (has_step (f, "authorization_pending"));
  drain ();
  g_assert_true (fake_record_has (rec, "error:timeout"));
  /* Nobody answered: not a reason to discard the credentials. */
  g_assert_true (file_exists (f, PNE_CREDENTIALS_FILE));
}

static void
test_unknown_entity (Fixture       *f,
                     gconstpointer  data)
{
  g_assert_true (pair (f));
  /* The server no longer knows the entity (§4.4 item 3): the credentials
   * are not valid and are discarded. */
  fake_gateway_forget_entities (f->fake);
  g_assert_false (connect_device (f));
  g_assert_error (f->error, CPNS_ERROR, CPNS_ERROR_NOT_FOUND);
  g_assert_true (has_step (f, "credentials_discarded"));
  g_assert_false (file_exists (f, PNE_CREDENTIALS_FILE));
}

static void
test_denied (Fixture       *f,
             gconstpointer  data)
{
  g_assert_true (pair (f));
  fake_gateway_set_flags (f->fake, FAKE_DENY);
  g_assert_false (connect_device (f));
  g_assert_error (f->error, CPNS_ERROR, CPNS_ERROR_DENIED);
  /* Denied is not a reason to discard the credentials. */
  g_assert_true (file_exists (f, PNE_CREDENTIALS_FILE));
}

static void
test_revoked (Fixture       *f,
              gconstpointer  data)
{
  g_assert_true (pair (f));
  g_assert_true (connect_device (f));
  f->disconnected = FALSE;
  fake_gateway_revoke_all (f->fake);
  wait_for (&f->disconnected);
  g_assert_error (f->disconnect_error, CPNS_ERROR, CPNS_ERROR_REVOKED);
  g_assert_false (file_exists (f, PNE_CREDENTIALS_FILE));
  g_assert_false (pne_device_is_connected (f->device));
}

static void
test_bye_from_gateway (Fixture       *f,
                       gconstpointer  data)
{
  g_assert_true (pair (f));
  g_assert_true (connect_device (f));
  f->disconnected = FALSE;
  fake_gateway_bye_all (f->fake);
  wait_for (&f->disconnected);
  g_assert_no_error (f->disconnect_error);
  g_assert_true (has_step (f, "bye"));
  g_assert_true (file_exists (f, PNE_CREDENTIALS_FILE));
}

static gboolean
set_flag (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
test_ping (Fixture       *f,
           gconstpointer  data)
{
  FakeRecord *rec = fake_gateway_get_record (f->fake);
  PneTimeouts timeouts;
  gboolean waited = FALSE;

  pne_device_get_timeouts (f->device, &timeouts);
  timeouts.ping_ms = 100;
  pne_device_set_timeouts (f->device, &timeouts);
  g_assert_true (pair (f));
  g_assert_true (connect_device (f));
  g_timeout_add (450, set_flag, &waited);
  wait_for (&waited);
  /* Pinged, answered (pong), still connected. */
  g_assert_true (fake_record_has (rec, "ping"));
  g_assert_true (pne_device_is_connected (f->device));
  disconnect_device (f);
}

static void
test_no_credentials (Fixture       *f,
                     gconstpointer  data)
{
  g_assert_false (connect_device (f));
  g_assert_error (f->error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
}

static void
test_discovery (Fixture       *f,
                gconstpointer  data)
{
  FakeRecord *rec = fake_gateway_get_record (f->fake);
  const char *target = fake_gateway_start_discovery (f->fake);

  pne_device_set_gateway_address (f->device, NULL);
  pne_device_add_discovery_target (f->device, target);
  pne_device_set_multicast (f->device, FALSE);
  g_assert_true (pair (f));
  g_assert_no_error (f->error);
  g_assert_true (fake_record_has (rec, "entity_discovery_request"));
  g_assert_true (has_step (f, "gateway_found"));
  g_assert_true (file_exists (f, PNE_CREDENTIALS_FILE));
}

static gboolean
open_when_announced (gpointer user_data)
{
  Fixture *f = user_data;
  FakeRecord *rec = fake_gateway_get_record (f->fake);
  guint requests = 0;

  for (guint i = 0; i < rec->received->len; i++)
    if (g_str_equal (g_ptr_array_index (rec->received, i), "entity_discovery_request"))
      requests++;
  if (requests < 3 || !fake_record_has (rec, "entity_discovery_response"))
    return G_SOURCE_CONTINUE;
  /* The person opens pairing for this device. */
  fake_gateway_set_discovery_open (f->fake, TRUE);
  return G_SOURCE_REMOVE;
}

static void
test_announce_until_open (Fixture       *f,
                          gconstpointer  data)
{
  FakeRecord *rec = fake_gateway_get_record (f->fake);
  const char *target = fake_gateway_start_discovery (f->fake);
  PneTimeouts timeouts;

  fake_gateway_set_discovery_open (f->fake, FALSE);
  pne_device_set_gateway_address (f->device, NULL);
  pne_device_add_discovery_target (f->device, target);
  pne_device_set_multicast (f->device, FALSE);
  pne_device_set_discovery_interval (f->device, 50);
  pne_device_get_timeouts (f->device, &timeouts);
  timeouts.discovery_ms = 0;   /* announce until the gateway opens */
  pne_device_set_timeouts (f->device, &timeouts);
  g_timeout_add (20, open_when_announced, f);

  g_assert_true (pair (f));
  g_assert_no_error (f->error);
  /* It kept announcing while closed, answered the gateway's request, and
   * paired only once the gateway opened. */
  g_assert_true (fake_record_has (rec, "entity_discovery_response"));
  g_assert_true (has_step (f, "gateway_found"));
  g_assert_true (file_exists (f, PNE_CREDENTIALS_FILE));
}

static void
test_discovery_timeout (Fixture       *f,
                        gconstpointer  data)
{
  PneTimeouts timeouts;

  pne_device_set_gateway_address (f->device, NULL);
  /* Nobody listens there. */
  pne_device_add_discovery_target (f->device, "127.0.0.1:9");
  pne_device_set_multicast (f->device, FALSE);
  pne_device_get_timeouts (f->device, &timeouts);
  timeouts.discovery_ms = 300;
  pne_device_set_timeouts (f->device, &timeouts);
  g_assert_false (pair (f));
  g_assert_error (f->error, CPNS_ERROR, CPNS_ERROR_TIMEOUT);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/pne/device/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("pair-and-connect", test_pair_and_connect);
  ADD ("resume", test_resume);
  ADD ("commitment-mismatch", test_commitment_mismatch);
  ADD ("wrong-cert-in-response", test_wrong_cert_in_response);
  ADD ("key-without-pairing-complete", test_key_without_complete);
  ADD ("closed-while-storing-key", test_closed_while_storing_key);
  ADD ("reply-timeout", test_reply_timeout);
  ADD ("reject-locally", test_reject_locally);
  ADD ("skip-3a", test_skip_3a);
  ADD ("pin-mismatch", test_pin_mismatch);
  ADD ("server-auth-failed", test_server_proof);
  ADD ("session-confirm-mac", test_ack_mac);
  ADD ("authorization-pending", test_pending_then_allow);
  ADD ("approval-timeout", test_approval_timeout);
  ADD ("unknown-entity", test_unknown_entity);
  ADD ("denied", test_denied);
  ADD ("revoked", test_revoked);
  ADD ("bye-from-gateway", test_bye_from_gateway);
  ADD ("ping", test_ping);
  ADD ("no-credentials", test_no_credentials);
  ADD ("discovery", test_discovery);
  ADD ("announce-until-open", test_announce_until_open);
  ADD ("discovery-timeout", test_discovery_timeout);
#undef ADD

  return g_test_run ();
}
