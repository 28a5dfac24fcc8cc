/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The whole flow through the UI: a real cpns-server, the engine inside the
 * app, a real cpns-pne on loopback. The test only touches what a person
 * would: Connect, the pairing window switch, the code dialog, the approval
 * dialog, the inventory and the timeline. */
#define G_LOG_DOMAIN "gw-test"

#include "config.h"

#include <signal.h>

#include "gw-application.h"
#include "gw-device-detail.h"
#include "gw-devices-page.h"
#include "gw-first-run-page.h"
#include "gw-network-page.h"
#include "gw-test-harness.h"
#include "gw-test-util.h"
#include "gw-timeline.h"
#include "gw-window.h"

#define WAIT_MS 30000

typedef gboolean (*Cond) (gpointer data);

static gboolean
wait_for (Cond     cond,
          gpointer data,
          guint    timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (!cond (data))
    {
      if (g_get_monotonic_time () > end)
        return FALSE;
      g_main_context_iteration (NULL, FALSE);
      g_usleep (2000);
    }
  return TRUE;
}

static GwApplication *app;
static GwWindow *window;

static gboolean
is_enrolled (gpointer data)
{
  return gw_app_state_get_enrolled (gw_application_get_state (app)) &&
         g_strcmp0 (gw_window_get_visible_page (window), "network") == 0;
}

static gboolean
is_connected (gpointer data)
{
  return gw_app_state_get_session_state (gw_application_get_state (app)) == GW_SESSION_CONNECTED;
}

static gboolean
is_pairing_open (gpointer data)
{
  return gw_app_state_get_pairing_open (gw_application_get_state (app));
}

static gboolean
has_prompt_dialog (gpointer data)
{
  GwPromptKind kind = GPOINTER_TO_INT (data);
  GListModel *prompts = gw_app_state_get_prompts (gw_application_get_state (app));

  for (guint i = 0; i < g_list_model_get_n_items (prompts); i++)
    {
      g_autoptr(GwPromptItem) p = g_list_model_get_item (prompts, i);
      if (gw_prompt_item_get_kind (p) == kind &&
          gw_prompt_item_get_status (p) == GW_PROMPT_STATUS_PENDING &&
          gw_window_get_prompt_dialog (window, gw_prompt_item_get_id (p)) != NULL)
        return TRUE;
    }
  return FALSE;
}

static GtkWidget *
prompt_dialog (GwPromptKind kind)
{
  GListModel *prompts = gw_app_state_get_prompts (gw_application_get_state (app));

  for (guint i = 0; i < g_list_model_get_n_items (prompts); i++)
    {
      g_autoptr(GwPromptItem) p = g_list_model_get_item (prompts, i);
      if (gw_prompt_item_get_kind (p) == kind && gw_prompt_item_get_status (p) == GW_PROMPT_STATUS_PENDING)
        return gw_window_get_prompt_dialog (window, gw_prompt_item_get_id (p));
    }
  return NULL;
}

static gboolean
pne_done (gpointer data)
{
  TPne *pne = data;
  return g_subprocess_get_identifier (pne->proc) == NULL;
}

static gboolean
device_connected (gpointer data)
{
  GwEntityItem *e = gw_app_state_lookup_entity (gw_application_get_state (app), data);
  return e != NULL && gw_entity_item_get_state (e) == GW_ENTITY_CONNECTED;
}

static gboolean
timeline_done (gpointer data)
{
  GwTimeline *timeline = data;

  for (guint m = 1; m <= 5; m++)
    if (gw_timeline_get_main_state (timeline, m) != GW_TIMELINE_DONE)
      return FALSE;
  return TRUE;
}

static void
test_full_flow (void)
{
  g_autofree char *dir = t_tmpdir ();
  g_autofree char *srv_dir = g_build_filename (dir, "server", NULL);
  g_autofree char *gw_dir = g_build_filename (dir, "gateway", NULL);
  g_autofree char *pne_dir = g_build_filename (dir, "pne", NULL);
  g_autofree char *invitation = NULL;
  g_autofree char *address = NULL;
  g_autofree char *pne_id = NULL;
  g_autofree char *summary = NULL;
  g_autoptr(TServer) server = NULL;
  g_autoptr(TPne) pairing = NULL;
  g_autoptr(TPne) connect = NULL;
  g_autoptr(GwEngineConfig) config = gw_engine_config_new ();
  g_autoptr(GError) error = NULL;
  GwFirstRunPage *first_run;
  GwNetworkPage *network;
  GwDevicesPage *devices;
  GtkWidget *dialog;
  GtkWidget *timeline;

  /* No notification service in the test session: the window's dialogs suffice. */
  {
    g_autoptr(GSettings) settings = g_settings_new (APP_ID);
    g_settings_set_boolean (settings, "notifications-enabled", FALSE);
  }
  server = t_server_start (srv_dir, 0);
  invitation = t_server_invite (server, "alice");

  /* The app with its engine, on loopback only. */
  g_free (config->data_dir);
  config->data_dir = g_strdup (gw_dir);
  g_free (config->listen_address);
  config->listen_address = g_strdup ("127.0.0.1");
  config->listen_port = 0;
  config->discovery_enabled = FALSE;
  config->discovery_port = 0;
  g_clear_pointer (&config->discovery_group, g_free);
  app = gw_application_new ();
  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE | G_APPLICATION_HANDLES_OPEN);
  gw_application_set_engine_config (app, config);
  g_assert_true (g_application_register (G_APPLICATION (app), NULL, &error));
  g_assert_no_error (error);
  g_assert_nonnull (gw_application_get_engine (app));
  g_application_activate (G_APPLICATION (app));
  window = GW_WINDOW (gw_application_get_main_window (app));
  gw_test_wait_frames (GTK_WIDGET (window), 2);

  /* Enroll with the invitation, confirming the server's fingerprint. */
  first_run = GW_FIRST_RUN_PAGE (gw_window_get_page (window, "first-run"));
  gw_window_set_invitation (window, invitation);
  gw_first_run_page_connect (first_run);
  if (gw_first_run_page_get_pin_shown (first_run))
    gw_first_run_page_confirm_pin (first_run);
  g_assert_true (wait_for (is_enrolled, NULL, WAIT_MS));
  g_assert_null (gw_first_run_page_get_error_text (first_run));

  /* Step 1, trigger I: joining the network was the request; no Connect click. */
  network = GW_NETWORK_PAGE (gw_window_get_page (window, "network"));
  g_assert_true (wait_for (is_connected, NULL, WAIT_MS));
  g_assert_false (gw_network_page_get_connect_visible (network));
  gw_test_iterate (600);  /* the page transition ends */
  gw_test_wait_frames (GTK_WIDGET (window), 3);
  g_free (gw_test_screenshot (GTK_WIDGET (window), "full-flow-enrolled-connected"));

  /* Open the pairing window, then the device pairs. */
  gw_network_page_set_pairing_open (network, TRUE);
  g_assert_true (wait_for (is_pairing_open, NULL, WAIT_MS));
  address = g_strdup_printf ("127.0.0.1:%u", gw_engine_get_listen_port (gw_application_get_engine (app)));
  pairing = t_pne_spawn ("pair", "--gateway", address, "--name", "Kitchen Sensor", "--type", "sensor",
                         "--service", "temperature:coap:5683", "--yes", "--state-dir", pne_dir, NULL);

  /* Step 2: the person confirms the code in the dialog. */
  g_assert_true (wait_for (has_prompt_dialog, GINT_TO_POINTER (GW_PROMPT_PAIRING_CODE), WAIT_MS));
  dialog = prompt_dialog (GW_PROMPT_PAIRING_CODE);
  gw_test_wait_frames (dialog, 2);
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "confirm");
  g_assert_true (wait_for (pne_done, pairing, WAIT_MS));
  g_assert_cmpint (t_pne_wait (pairing, 1000), ==, 0);
  pne_id = t_pne_credential (pne_dir, "pne_id");
  g_assert_nonnull (pne_id);

  /* Steps 4–5: the device connects; the server's policy asks the person. */
  connect = t_pne_spawn ("connect", "--state-dir", pne_dir, NULL);
  g_assert_true (wait_for (has_prompt_dialog, GINT_TO_POINTER (GW_PROMPT_APPROVAL), WAIT_MS));
  dialog = prompt_dialog (GW_PROMPT_APPROVAL);
  gw_test_wait_frames (dialog, 2);
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "allow-once");
  g_assert_true (wait_for (device_connected, pne_id, WAIT_MS));

  /* The inventory shows it connected; its timeline shows all five steps done. */
  gw_window_show_page (window, "devices");
  devices = GW_DEVICES_PAGE (gw_window_get_page (window, "devices"));
  g_assert_true (gw_devices_page_select (devices, pne_id));
  timeline = gw_device_detail_get_timeline (GW_DEVICE_DETAIL (gw_devices_page_get_detail (devices)));
  g_assert_true (wait_for (timeline_done, timeline, WAIT_MS));
  summary = gw_timeline_dup_summary (GW_TIMELINE (timeline));
  g_test_message ("%s", summary);
  gw_test_iterate (600);
  gw_test_wait_frames (GTK_WIDGET (window), 3);
  g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (window)));
  g_free (gw_test_screenshot (GTK_WIDGET (window), "full-flow-inventory"));

  /* The device leaves; the app quits cleanly (the engine stops). */
  g_subprocess_send_signal (connect->proc, SIGINT);
  t_pne_wait (connect, 10000);
  g_action_group_activate_action (G_ACTION_GROUP (app), "quit", NULL);
  gw_test_iterate (100);
  t_server_stop (server);
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  g_setenv ("LC_ALL", "C.UTF-8", TRUE);
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();
  g_test_add_func ("/ui/full-flow", test_full_flow);
  ret = g_test_run ();
  if (app != NULL)
    {
      g_application_quit (G_APPLICATION (app));
      g_clear_object (&app);
    }
  return ret;
}
