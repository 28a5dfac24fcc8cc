/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The app's widgets under Xvfb: every template, the reactions to engine
 * events, the prompts (answered, denied, expired), the inventory and the
 * timeline; writes screenshots to <build>/screenshots. */
#define G_LOG_DOMAIN "gw-test"

#include "config.h"

#include <glib/gstdio.h>

#include "gw-activity-page.h"
#include "gw-application.h"
#include "gw-approval-dialog.h"
#include "gw-device-detail.h"
#include "gw-error-text.h"
#include "gw-devices-page.h"
#include "gw-first-run-page.h"
#include "gw-format.h"
#include "gw-network-page.h"
#include "gw-pairing-dialog.h"
#include "gw-preferences-window.h"
#include "gw-test-util.h"
#include "gw-timeline.h"
#include "gw-window.h"

static GwApplication *app;

typedef struct
{
  GwAppState *state;
  GwWindow   *window;
  GPtrArray  *commands;
} Fixture;

static void
on_command (GwAppState *state,
            GwCommand  *command,
            GPtrArray  *commands)
{
  g_ptr_array_add (commands, gw_command_ref (command));
}

static void
feed (Fixture *f,
      GwEvent *event)
{
  gw_app_state_handle_event (f->state, event);
  gw_app_state_flush (f->state);
  gw_event_unref (event);
}

static GwCommand *
last_command (Fixture *f)
{
  g_assert_cmpuint (f->commands->len, >, 0);
  return f->commands->pdata[f->commands->len - 1];
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  f->state = gw_app_state_new ();
  f->commands = g_ptr_array_new_with_free_func ((GDestroyNotify) gw_command_unref);
  g_signal_connect (f->state, "command", G_CALLBACK (on_command), f->commands);
  f->window = gw_window_new (GTK_APPLICATION (app), f->state);
  gtk_window_set_default_size (GTK_WINDOW (f->window), 1240, 760);
  gtk_window_present (GTK_WINDOW (f->window));
  gw_test_wait_frames (GTK_WIDGET (f->window), 2);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  GList *windows = g_list_copy (gtk_window_list_toplevels ());

  for (GList *l = windows; l; l = l->next)
    if (GTK_IS_WINDOW (l->data))
      gtk_window_destroy (l->data);
  g_list_free (windows);
  gw_test_iterate (50);
  g_clear_pointer (&f->commands, g_ptr_array_unref);
  g_clear_object (&f->state);
}

static void
enroll_and_connect (Fixture *f)
{
  feed (f, gw_test_session_event (GW_SESSION_CONNECTED, 0, -1));
}

static char *
shot (GtkWidget  *widget,
      const char *name)
{
  /* Let transitions (stack crossfades, switcher title) finish. */
  gw_test_iterate (600);
  gw_test_wait_frames (widget, 3);
  return gw_test_screenshot (widget, name);
}

/* ---- every template once ----------------------------------------------- */

static void
test_templates (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GwEvent) ev = gw_test_prompt_event (GW_EVENT_PROMPT_RAISED, 1, GW_PROMPT_PAIRING_CODE, "X", 1, 60, 0);
  g_autoptr(GwPromptItem) pairing = gw_prompt_item_new (ev->prompt);
  g_autoptr(GwEvent) ev2 = gw_test_prompt_event (GW_EVENT_PROMPT_RAISED, 2, GW_PROMPT_APPROVAL, "X", 0, 60, 0);
  g_autoptr(GwPromptItem) approval = gw_prompt_item_new (ev2->prompt);
  g_autoptr(GSettings) settings = g_settings_new (APP_ID);
  g_autoptr(GtkBuilder) builder = NULL;
  GtkWidget *w;

  g_assert_true (GW_IS_WINDOW (f->window));
  w = g_object_ref_sink (gw_first_run_page_new (f->state));
  g_assert_true (GW_IS_FIRST_RUN_PAGE (w));
  g_object_unref (w);
  w = g_object_ref_sink (gw_network_page_new (f->state));
  g_assert_true (GW_IS_NETWORK_PAGE (w));
  g_object_unref (w);
  w = g_object_ref_sink (gw_devices_page_new (f->state));
  g_assert_true (GW_IS_DEVICES_PAGE (w));
  g_object_unref (w);
  w = g_object_ref_sink (gw_device_detail_new ());
  g_assert_true (GW_IS_DEVICE_DETAIL (w));
  g_object_unref (w);
  w = g_object_ref_sink (gw_activity_page_new (f->state));
  g_assert_true (GW_IS_ACTIVITY_PAGE (w));
  g_object_unref (w);
  w = g_object_ref_sink (gw_timeline_new ());
  g_assert_true (GW_IS_TIMELINE (w));
  g_object_unref (w);

  w = gw_pairing_dialog_new (GTK_WINDOW (f->window), f->state, pairing);
  g_assert_true (GW_IS_PAIRING_DIALOG (w));
  gtk_window_destroy (GTK_WINDOW (w));
  w = gw_approval_dialog_new (GTK_WINDOW (f->window), f->state, approval);
  g_assert_true (GW_IS_APPROVAL_DIALOG (w));
  gtk_window_destroy (GTK_WINDOW (w));
  w = gw_preferences_window_new (GTK_WINDOW (f->window), settings, f->state);
  g_assert_true (GW_IS_PREFERENCES_WINDOW (w));
  gtk_window_destroy (GTK_WINDOW (w));

  builder = gtk_builder_new_from_resource ("/io/github/cpns/Gateway/gtk/help-overlay.ui");
  w = GTK_WIDGET (gtk_builder_get_object (builder, "help_overlay"));
  g_assert_true (GTK_IS_SHORTCUTS_WINDOW (w));
  gtk_window_destroy (GTK_WINDOW (w));
}

static void
test_app_actions (Fixture       *f,
                  gconstpointer  data)
{
  const char *names[] = { "quit", "about", "preferences", "help", "answer-prompt", "show-prompt" };
  g_auto(GStrv) quit = gtk_application_get_accels_for_action (GTK_APPLICATION (app), "app.quit");
  g_auto(GStrv) prefs = gtk_application_get_accels_for_action (GTK_APPLICATION (app), "app.preferences");
  g_auto(GStrv) help = gtk_application_get_accels_for_action (GTK_APPLICATION (app), "app.help");
  g_auto(GStrv) search = gtk_application_get_accels_for_action (GTK_APPLICATION (app), "win.search");
  gboolean found_prefs = FALSE, found_about = FALSE;

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    g_assert_true (g_action_group_has_action (G_ACTION_GROUP (app), names[i]));
  g_assert_cmpstr (quit[0], ==, "<Control>q");
  g_assert_cmpstr (prefs[0], ==, "<Control>comma");
  g_assert_cmpstr (help[0], ==, "F1");
  g_assert_cmpstr (search[0], ==, "<Control>f");

  g_action_group_activate_action (G_ACTION_GROUP (app), "preferences", NULL);
  g_action_group_activate_action (G_ACTION_GROUP (app), "about", NULL);
  gw_test_iterate (100);
  {
    g_autoptr(GList) toplevels = gtk_window_list_toplevels ();
    for (GList *l = toplevels; l; l = l->next)
      {
        found_prefs |= GW_IS_PREFERENCES_WINDOW (l->data);
        found_about |= ADW_IS_ABOUT_WINDOW (l->data);
      }
  }
  g_assert_true (found_prefs);
  g_assert_true (found_about);

  /* A notification's button answers through app.answer-prompt. */
  {
    GwAppState *app_state = gw_application_get_state (app);
    g_autoptr(GPtrArray) cmds = g_ptr_array_new_with_free_func ((GDestroyNotify) gw_command_unref);
    gulong id = g_signal_connect (app_state, "command", G_CALLBACK (on_command), cmds);
    GwCommand *cmd;

    g_action_group_activate_action (G_ACTION_GROUP (app), "answer-prompt",
                                    g_variant_new ("(ts)", (guint64) 42, "allow-always"));
    g_signal_handler_disconnect (app_state, id);
    g_assert_cmpuint (cmds->len, ==, 1);
    cmd = cmds->pdata[0];
    g_assert_cmpint (cmd->type, ==, GW_COMMAND_ANSWER_PROMPT);
    g_assert_cmpuint (cmd->prompt_id, ==, 42);
    g_assert_cmpint (cmd->answer, ==, GW_ANSWER_ALLOW_ALWAYS);
  }
}

/* ---- first run --------------------------------------------------------- */

static void
test_first_run (Fixture       *f,
                gconstpointer  data)
{
  GwFirstRunPage *page = GW_FIRST_RUN_PAGE (gw_window_get_page (f->window, "first-run"));
  g_autoptr(GError) error = g_error_new_literal (CPNS_ERROR, CPNS_ERROR_UNAUTHORIZED, "bad code");
  g_autoptr(GwEvent) ok = NULL;
  g_autofree char *path = NULL;
  GwCommand *cmd;

  g_assert_cmpstr (gw_window_get_visible_page (f->window), ==, "first-run");

  gw_first_run_page_set_invitation (page, "https://example.org/not-an-invitation");
  gw_first_run_page_connect (page);
  g_assert_nonnull (gw_first_run_page_get_error_text (page));
  g_assert_cmpuint (f->commands->len, ==, 0);

  gw_first_run_page_set_invitation (page,
    "cpns://enroll?server=https%3A%2F%2Fcpns.example.org%3A7443&user=alice&code=ABCD-EFGH-IJKL-MNOP"
    "&pin=sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
  gw_first_run_page_connect (page);
  g_assert_null (gw_first_run_page_get_error_text (page));
  g_assert_true (gw_first_run_page_get_pin_shown (page));
  g_assert_cmpuint (f->commands->len, ==, 0);   /* not before the pin is confirmed */
  path = shot (GTK_WIDGET (f->window), "first-run");
  g_test_message ("screenshot: %s", path);

  gw_first_run_page_confirm_pin (page);
  cmd = last_command (f);
  g_assert_cmpint (cmd->type, ==, GW_COMMAND_ENROLL);
  g_assert_true (g_str_has_prefix (cmd->invitation, "cpns://enroll?"));
  g_assert_true (gw_first_run_page_get_busy (page));

  /* A wrong code: the error in words, inline. */
  {
    GwEvent *ev = gw_event_new (GW_EVENT_ENROLLMENT);
    ev->error = g_error_copy (error);
    feed (f, ev);
  }
  g_assert_false (gw_first_run_page_get_busy (page));
  g_assert_nonnull (strstr (gw_first_run_page_get_error_text (page), "Wrong or used enrollment code"));
  g_free (path);
  path = shot (GTK_WIDGET (f->window), "first-run-error");

  /* A refused certificate: its class and date, in words. */
  {
    GwEvent *ev = gw_test_session_event (GW_SESSION_NOT_ENROLLED, 0, -1);

    ev->type = GW_EVENT_ENROLLMENT;
    ev->error = g_error_new_literal (CPNS_ERROR, CPNS_ERROR_TLS_FAILED, "certificate expired");
    ev->session->tls_failure = GW_TLS_FAILURE_EXPIRED;
    ev->session->cert_not_after = G_GINT64_CONSTANT (1609459200);   /* 2021-01-01 */
    feed (f, ev);
  }
  g_assert_nonnull (strstr (gw_first_run_page_get_error_text (page), "expired on 1 January 2021"));
  /* The identity step failed; the one after it never began. */
  g_assert_cmpstr (gw_first_run_page_get_step_text (page, 0), ==, "Done");
  g_assert_cmpstr (gw_first_run_page_get_step_text (page, 1), ==, "Failed");
  g_assert_cmpstr (gw_first_run_page_get_step_text (page, 2), ==, "Not started");
  g_free (path);
  path = shot (GTK_WIDGET (f->window), "first-run-certificate-expired");

  /* Success: the main pages. */
  ok = gw_test_session_event (GW_SESSION_DISCONNECTED, 0, -1);
  ok->type = GW_EVENT_ENROLLMENT;
  gw_app_state_handle_event (f->state, ok);
  g_assert_cmpstr (gw_window_get_visible_page (f->window), ==, "network");
  /* Joining the network was the person's request: the session opens at once. */
  g_assert_cmpint (last_command (f)->type, ==, GW_COMMAND_CONNECT);
}

/* ---- network page ------------------------------------------------------ */

static void
test_network_page (Fixture       *f,
                   gconstpointer  data)
{
  GwNetworkPage *page = GW_NETWORK_PAGE (gw_window_get_page (f->window, "network"));
  g_autofree char *path = NULL;

  feed (f, gw_test_session_event (GW_SESSION_DISCONNECTED, 0, -1));
  g_assert_true (gw_network_page_get_connect_visible (page));
  g_assert_true (g_str_has_prefix (gw_network_page_get_session_title (page), "Not connected"));
  gw_network_page_activate_connect (page);
  g_assert_cmpint (last_command (f)->type, ==, GW_COMMAND_CONNECT);

  feed (f, gw_test_session_event (GW_SESSION_RETRYING, 12, CPNS_ERROR_SERVER_UNREACHABLE));
  g_assert_cmpstr (gw_network_page_get_session_title (page), ==, "Not connected — retrying in 12 s");
  g_assert_cmpstr (gw_network_page_get_session_subtitle (page), ==,
                   gw_error_text_for_code (CPNS_ERROR_SERVER_UNREACHABLE));
  g_assert_true (gw_network_page_get_connect_visible (page));

  {
    GwEvent *ev = gw_test_session_event (GW_SESSION_RETRYING, 30, CPNS_ERROR_TLS_FAILED);

    ev->session->tls_failure = GW_TLS_FAILURE_WRONG_HOST;
    feed (f, ev);
  }
  g_assert_nonnull (strstr (gw_network_page_get_session_subtitle (page), "issued for another address"));
  path = shot (GTK_WIDGET (f->window), "network-certificate-wrong-host");
  g_clear_pointer (&path, g_free);

  enroll_and_connect (f);
  g_assert_cmpstr (gw_network_page_get_session_title (page), ==, "Connected to cpns.example.org as alice");
  g_assert_false (gw_network_page_get_connect_visible (page));

  gw_network_page_set_pairing_open (page, TRUE);
  g_assert_cmpint (last_command (f)->type, ==, GW_COMMAND_OPEN_PAIRING_WINDOW);
  feed (f, gw_test_pairing_window_event (TRUE, 118));
  g_assert_cmpstr (gw_network_page_get_pairing_text (page), ==, "Open · 1:58 left");

  feed (f, gw_test_entity_event ("pne-00000000000000000000000000000001", "Living Room", "speaker", GW_ENTITY_CONNECTED));
  feed (f, gw_test_entity_event ("pne-00000000000000000000000000000002", "Phone", "phone", GW_ENTITY_DISCONNECTED));
  g_assert_cmpstr (gw_network_page_get_counts_text (page), ==, "2 devices · 1 connected · 0 waiting for you");

  /* During pairing: nearby devices, the running flow and the prompt. */
  feed (f, gw_test_discovered_event ("192.168.1.23:7472/a", "Kitchen Sensor", "sensor", "192.168.1.23:7472"));
  feed (f, gw_test_discovered_event ("192.168.1.40:7472/b", "Hall Camera", "camera", "192.168.1.40:7472"));
  feed (f, gw_test_step_event (11, GW_FLOW_PAIRING, NULL, "Kitchen Sensor", GW_STEP_1, GW_STEP_DONE, -1));
  feed (f, gw_test_step_event (11, GW_FLOW_PAIRING, NULL, "Kitchen Sensor", GW_STEP_2, GW_STEP_RUNNING, -1));
  feed (f, gw_test_prompt_event (GW_EVENT_PROMPT_RAISED, 5, GW_PROMPT_PAIRING_CODE, "Kitchen Sensor", 482913, 112, 0));
  g_assert_cmpstr (gw_network_page_get_counts_text (page), ==, "2 devices · 1 connected · 1 waiting for you");
  /* The dialog is up; close it to show the page itself. */
  gtk_window_destroy (GTK_WINDOW (gw_window_get_prompt_dialog (f->window, 5)));
  path = shot (GTK_WIDGET (f->window), "network-pairing");
  g_test_message ("screenshot: %s", path);
}

/* ---- prompts ----------------------------------------------------------- */

static void
test_pairing_prompt (Fixture       *f,
                     gconstpointer  data)
{
  GtkWidget *dialog;
  g_autofree char *path = NULL;
  GwCommand *cmd;

  enroll_and_connect (f);
  feed (f, gw_test_prompt_event (GW_EVENT_PROMPT_RAISED, 21, GW_PROMPT_PAIRING_CODE, "Kitchen Sensor", 482913, 112, 0));
  dialog = gw_window_get_prompt_dialog (f->window, 21);
  g_assert_true (GW_IS_PAIRING_DIALOG (dialog));
  g_assert_cmpstr (gw_pairing_dialog_get_code_text (GW_PAIRING_DIALOG (dialog)), ==, "482 913");
  g_assert_cmpstr (adw_message_dialog_get_heading (ADW_MESSAGE_DIALOG (dialog)), ==, "Pair “Kitchen Sensor”?");
  g_assert_cmpstr (adw_message_dialog_get_default_response (ADW_MESSAGE_DIALOG (dialog)), ==, "reject");
  g_assert_cmpstr (adw_message_dialog_get_close_response (ADW_MESSAGE_DIALOG (dialog)), ==, "reject");
  g_assert_true (g_str_has_suffix (gw_pairing_dialog_get_remaining_text (GW_PAIRING_DIALOG (dialog)), "left"));
  path = shot (dialog, "pairing-code-dialog");
  g_test_message ("screenshot: %s", path);

  adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "confirm");
  cmd = last_command (f);
  g_assert_cmpint (cmd->type, ==, GW_COMMAND_ANSWER_PROMPT);
  g_assert_cmpuint (cmd->prompt_id, ==, 21);
  g_assert_cmpint (cmd->answer, ==, GW_ANSWER_CONFIRM);
  feed (f, gw_test_prompt_event (GW_EVENT_PROMPT_WITHDRAWN, 21, GW_PROMPT_PAIRING_CODE, "Kitchen Sensor", 482913, 0,
                                 GW_WITHDRAWN_ANSWERED));
  gw_test_iterate (50);
  g_assert_null (gw_window_get_prompt_dialog (f->window, 21));
}

static void
test_expired_prompt (Fixture       *f,
                     gconstpointer  data)
{
  GtkWidget *dialog;
  GwPromptItem *item;
  g_autofree char *path = NULL;
  guint n_commands;

  enroll_and_connect (f);
  feed (f, gw_test_prompt_event (GW_EVENT_PROMPT_RAISED, 31, GW_PROMPT_PAIRING_CODE, "Kitchen Sensor", 123456, 5, 0));
  dialog = gw_window_get_prompt_dialog (f->window, 31);
  g_assert_nonnull (dialog);
  feed (f, gw_test_prompt_event (GW_EVENT_PROMPT_WITHDRAWN, 31, GW_PROMPT_PAIRING_CODE, "Kitchen Sensor", 123456, 0,
                                 GW_WITHDRAWN_EXPIRED));
  /* The dialog says so instead of vanishing, and can no longer confirm. */
  g_assert_true (gw_window_get_prompt_dialog (f->window, 31) == dialog);
  g_assert_cmpstr (adw_message_dialog_get_heading (ADW_MESSAGE_DIALOG (dialog)), ==, "Pairing Request Expired");
  g_assert_false (adw_message_dialog_get_response_enabled (ADW_MESSAGE_DIALOG (dialog), "confirm"));
  g_assert_cmpstr (gw_pairing_dialog_get_remaining_text (GW_PAIRING_DIALOG (dialog)), ==,
                   "Expired — the pairing was rejected");
  path = shot (dialog, "pairing-expired-dialog");
  /* The Network page lists it as expired until dismissed. */
  item = gw_app_state_lookup_prompt (f->state, 31);
  g_assert_nonnull (item);
  g_assert_cmpint (gw_prompt_item_get_status (item), ==, GW_PROMPT_STATUS_EXPIRED);
  g_assert_cmpuint (gw_window_get_n_toasts (f->window), >=, 1);

  n_commands = f->commands->len;
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "reject");
  g_assert_cmpuint (f->commands->len, ==, n_commands);     /* nothing to answer any more */
  g_assert_null (gw_app_state_lookup_prompt (f->state, 31));  /* closing dismisses it */
}

static void
test_approval_and_denial (Fixture       *f,
                          gconstpointer  data)
{
  const char *id = "pne-8c1e3f0a9b2d4c6e8f1a3b5c7d9e5a6b";
  GtkWidget *dialog;
  GtkWidget *timeline;
  GwDevicesPage *devices;
  g_autofree char *path = NULL;
  g_autofree char *summary = NULL;
  GwCommand *cmd;

  enroll_and_connect (f);
  feed (f, gw_test_entity_event (id, "Kitchen Sensor", "sensor", GW_ENTITY_WAITING));
  feed (f, gw_test_step_event (40, GW_FLOW_CONNECTION, id, "Kitchen Sensor", GW_STEP_4A, GW_STEP_DONE, -1));
  feed (f, gw_test_step_event (40, GW_FLOW_CONNECTION, id, "Kitchen Sensor", GW_STEP_4B, GW_STEP_DONE, -1));
  feed (f, gw_test_step_event (40, GW_FLOW_CONNECTION, id, "Kitchen Sensor", GW_STEP_4C, GW_STEP_DONE, -1));
  feed (f, gw_test_step_event (40, GW_FLOW_CONNECTION, id, "Kitchen Sensor", GW_STEP_4DF, GW_STEP_RUNNING, -1));
  feed (f, gw_test_prompt_event (GW_EVENT_PROMPT_RAISED, 41, GW_PROMPT_APPROVAL, "Kitchen Sensor", 0, 107, 0));
  dialog = gw_window_get_prompt_dialog (f->window, 41);
  g_assert_true (GW_IS_APPROVAL_DIALOG (dialog));
  g_assert_cmpstr (adw_message_dialog_get_heading (ADW_MESSAGE_DIALOG (dialog)), ==, "Allow “Kitchen Sensor” to Connect?");
  g_assert_cmpstr (adw_message_dialog_get_default_response (ADW_MESSAGE_DIALOG (dialog)), ==, "deny");
  g_assert_true (adw_message_dialog_has_response (ADW_MESSAGE_DIALOG (dialog), "allow-once"));
  g_assert_true (adw_message_dialog_has_response (ADW_MESSAGE_DIALOG (dialog), "allow-always"));
  path = shot (dialog, "approval-dialog");
  g_test_message ("screenshot: %s", path);

  adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "deny");
  cmd = last_command (f);
  g_assert_cmpint (cmd->type, ==, GW_COMMAND_ANSWER_PROMPT);
  g_assert_cmpint (cmd->answer, ==, GW_ANSWER_DENY);

  /* The engine reports the denial; the device's timeline shows it in words. */
  feed (f, gw_test_prompt_event (GW_EVENT_PROMPT_WITHDRAWN, 41, GW_PROMPT_APPROVAL, "Kitchen Sensor", 0, 0,
                                 GW_WITHDRAWN_ANSWERED));
  feed (f, gw_test_step_event (40, GW_FLOW_CONNECTION, id, "Kitchen Sensor", GW_STEP_4DF, GW_STEP_FAILED,
                               CPNS_ERROR_DENIED));
  feed (f, gw_test_entity_event (id, "Kitchen Sensor", "sensor", GW_ENTITY_DISCONNECTED));

  gw_window_show_page (f->window, "devices");
  devices = GW_DEVICES_PAGE (gw_window_get_page (f->window, "devices"));
  g_assert_true (gw_devices_page_select (devices, id));
  timeline = gw_device_detail_get_timeline (GW_DEVICE_DETAIL (gw_devices_page_get_detail (devices)));
  g_assert_cmpint (gw_timeline_get_main_state (GW_TIMELINE (timeline), 4), ==, GW_TIMELINE_FAILED);
  g_assert_cmpint (gw_timeline_get_main_state (GW_TIMELINE (timeline), 5), ==, GW_TIMELINE_PENDING);
  summary = gw_timeline_dup_summary (GW_TIMELINE (timeline));
  g_assert_nonnull (strstr (summary, gw_error_text_for_code (CPNS_ERROR_DENIED)));
  g_assert_false (gw_timeline_get_can_retry (GW_TIMELINE (timeline)));   /* retrying a denial makes no sense */
  g_free (path);
  path = shot (GTK_WIDGET (f->window), "device-denied");
}

/* ---- inventory and timeline -------------------------------------------- */

static const struct { const char *name; const char *type; GwEntityState state; } devices20[] = {
  { "Kitchen Sensor", "sensor", GW_ENTITY_CONNECTED },
  { "Living Room Speaker", "speaker", GW_ENTITY_CONNECTED },
  { "Alice’s Phone", "phone", GW_ENTITY_CONNECTED },
  { "Hall Camera", "camera", GW_ENTITY_DISCONNECTED },
  { "Bedroom Light", "light", GW_ENTITY_CONNECTED },
  { "Office Printer", "printer", GW_ENTITY_DISCONNECTED },
  { "Garage Sensor", "sensor", GW_ENTITY_WAITING },
  { "Tablet", "tablet", GW_ENTITY_CONNECTED },
  { "Kitchen TV", "tv", GW_ENTITY_CONNECTED },
  { "Garden Sensor", "sensor", GW_ENTITY_REVOKED },
  { "Bob’s Laptop", "laptop", GW_ENTITY_CONNECTED },
  { "Doorbell Camera", "camera", GW_ENTITY_CONNECTED },
  { "Bathroom Sensor", "sensor", GW_ENTITY_DISCONNECTED },
  { "Desk Lamp", "light", GW_ENTITY_CONNECTED },
  { "Headset", "headset", GW_ENTITY_DISCONNECTED },
  { "Attic Sensor", "sensor", GW_ENTITY_BLOCKED },
  { "Study Display", "display", GW_ENTITY_CONNECTED },
  { "Router", "router", GW_ENTITY_CONNECTED },
  { "Watch", "watch", GW_ENTITY_PAIRING },
  { "Porch Light", "light", GW_ENTITY_CONNECTED },
};

static void
search (GwDevicesPage *devices,
        const char    *text)
{
  gint64 end = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  gw_devices_page_set_search (devices, text);
  while (gw_devices_page_get_filtering (devices) && g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, FALSE);
  g_assert_false (gw_devices_page_get_filtering (devices));
}

static void
state_filter (GwDevicesPage *devices,
              guint          filter)
{
  gint64 end = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  gw_devices_page_set_state_filter (devices, filter);
  while (gw_devices_page_get_filtering (devices) && g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, FALSE);
  g_assert_false (gw_devices_page_get_filtering (devices));
}

/* Whether a label under @widget (drawn ones only) reads @text. */
static gboolean
has_label (GtkWidget  *widget,
           const char *text)
{
  if (GTK_IS_LABEL (widget) && gtk_widget_get_mapped (widget) &&
      g_strcmp0 (gtk_label_get_label (GTK_LABEL (widget)), text) == 0)
    return TRUE;
  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL; c = gtk_widget_get_next_sibling (c))
    if (has_label (c, text))
      return TRUE;
  return FALSE;
}

static void
test_inventory (Fixture       *f,
                gconstpointer  data)
{
  GwDevicesPage *devices = GW_DEVICES_PAGE (gw_window_get_page (f->window, "devices"));
  GListModel *visible = gw_devices_page_get_visible_model (devices);
  const char *id = "pne-00000000000000000000000000000001";
  GtkWidget *timeline;
  g_autofree char *path = NULL;
  g_autofree char *tpath = NULL;
  g_autoptr(GwEntityItem) first = NULL;

  enroll_and_connect (f);
  for (guint i = 0; i < G_N_ELEMENTS (devices20); i++)
    {
      g_autofree char *pne = g_strdup_printf ("pne-%032x", i + 1);
      feed (f, gw_test_entity_event (pne, devices20[i].name, devices20[i].type, devices20[i].state));
    }
  /* The first device's whole journey, as the engine reports it. */
  for (GwStep s = GW_STEP_1; s <= GW_STEP_2; s++)
    feed (f, gw_test_step_event (100, GW_FLOW_PAIRING, NULL, "Kitchen Sensor", s, GW_STEP_DONE, -1));
  feed (f, gw_test_step_event (100, GW_FLOW_PAIRING, NULL, "Kitchen Sensor", GW_STEP_3A, GW_STEP_SKIPPED, -1));
  feed (f, gw_test_step_event (100, GW_FLOW_PAIRING, id, "Kitchen Sensor", GW_STEP_3BD, GW_STEP_DONE, -1));
  feed (f, gw_test_step_event (100, GW_FLOW_PAIRING, id, "Kitchen Sensor", GW_STEP_3E, GW_STEP_DONE, -1));
  for (GwStep s = GW_STEP_4A; s <= GW_STEP_5B; s++)
    feed (f, gw_test_step_event (101, GW_FLOW_CONNECTION, id, "Kitchen Sensor", s, GW_STEP_DONE, -1));

  gw_window_show_page (f->window, "devices");
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, 20);
  /* Sorted by name. */
  first = g_list_model_get_item (visible, 0);
  g_assert_cmpstr (gw_entity_item_get_name (first), ==, "Alice’s Phone");

  /* Search across name, type, ID and services. */
  search (devices, "sensor");
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, 5);
  search (devices, "kitchen s");
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, 1);
  search (devices, "pne-00000000000000000000000000000014");
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, 1);
  search (devices, "humidity");
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, 20);
  search (devices, "");
  state_filter (devices, 1);
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, 12);
  state_filter (devices, 4);
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, 2);
  state_filter (devices, 0);

  /* Ctrl+F's action focuses the search field on the Devices page. */
  gw_window_show_page (f->window, "network");
  gtk_widget_activate_action (GTK_WIDGET (f->window), "win.search", NULL);
  g_assert_cmpstr (gw_window_get_visible_page (f->window), ==, "devices");

  g_assert_true (gw_devices_page_select (devices, id));
  gw_test_wait_frames (GTK_WIDGET (f->window), 2);
  /* Types by their display names in the Type column and the detail pane;
   * types the protocol does not name as they are. */
  g_assert_true (has_label (GTK_WIDGET (devices), "Phone"));
  g_assert_true (has_label (GTK_WIDGET (devices), "Sensor"));
  g_assert_true (has_label (GTK_WIDGET (devices), "light"));
  g_assert_false (has_label (GTK_WIDGET (devices), "sensor"));
  g_assert_true (has_label (gw_devices_page_get_detail (devices), "Sensor · Acme T-100 · SN 4411"));
  timeline = gw_device_detail_get_timeline (GW_DEVICE_DETAIL (gw_devices_page_get_detail (devices)));
  for (guint m = 1; m <= 5; m++)
    g_assert_cmpint (gw_timeline_get_main_state (GW_TIMELINE (timeline), m), ==, GW_TIMELINE_DONE);
  g_assert_false (gw_timeline_is_animating (GW_TIMELINE (timeline)));
  /* Retry from the detail: a server step reconnects, a pairing step pairs
   * the device's address again. */
  g_signal_emit_by_name (timeline, "retry", (guint) GW_STEP_1);
  g_assert_cmpint (last_command (f)->type, ==, GW_COMMAND_CONNECT);
  g_signal_emit_by_name (timeline, "retry", (guint) GW_STEP_2);
  g_assert_cmpint (last_command (f)->type, ==, GW_COMMAND_PAIR_ADDRESS);
  g_assert_cmpstr (last_command (f)->address, ==, "192.168.1.23:7472");
  gtk_widget_grab_focus (GTK_WIDGET (f->window));
  path = shot (GTK_WIDGET (f->window), "inventory");
  tpath = shot (timeline, "timeline");
  g_test_message ("screenshots: %s %s", path, tpath);
}

static void
test_timeline_live (Fixture       *f,
                    gconstpointer  data)
{
  GwTimeline *timeline;
  GtkWidget *box;
  const char *id = "pne-77777777777777777777777777777777";
  GwFlowItem *journey;
  g_autofree char *summary = NULL;
  g_autofree char *path = NULL;

  enroll_and_connect (f);
  journey = gw_app_state_get_journey (f->state, id);
  timeline = GW_TIMELINE (gw_timeline_new ());
  gw_timeline_set_flow (timeline, journey);
  box = gtk_window_new ();
  gtk_window_set_default_size (GTK_WINDOW (box), 560, 640);
  gtk_window_set_child (GTK_WINDOW (box), GTK_WIDGET (timeline));
  gtk_window_present (GTK_WINDOW (box));

  g_assert_cmpint (gw_timeline_get_main_state (timeline, 1), ==, GW_TIMELINE_PENDING);
  feed (f, gw_test_step_event (200, GW_FLOW_PAIRING, id, "Watch", GW_STEP_1, GW_STEP_DONE, -1));
  feed (f, gw_test_step_event (200, GW_FLOW_PAIRING, id, "Watch", GW_STEP_2, GW_STEP_DONE, -1));
  feed (f, gw_test_step_event (200, GW_FLOW_PAIRING, id, "Watch", GW_STEP_3A, GW_STEP_SKIPPED, -1));
  feed (f, gw_test_step_event (200, GW_FLOW_PAIRING, id, "Watch", GW_STEP_3BD, GW_STEP_RUNNING, -1));
  gw_test_wait_frames (GTK_WIDGET (timeline), 3);
  /* The running step animates while shown. */
  g_assert_cmpint (gw_timeline_get_main_state (timeline, 3), ==, GW_TIMELINE_RUNNING);
  g_assert_true (gw_timeline_is_animating (timeline));

  feed (f, gw_test_step_event (200, GW_FLOW_PAIRING, id, "Watch", GW_STEP_3BD, GW_STEP_DONE, -1));
  feed (f, gw_test_step_event (200, GW_FLOW_PAIRING, id, "Watch", GW_STEP_3E, GW_STEP_FAILED, CPNS_ERROR_TIMEOUT));
  g_assert_false (gw_timeline_is_animating (timeline));
  g_assert_cmpint (gw_timeline_get_main_state (timeline, 3), ==, GW_TIMELINE_FAILED);
  g_assert_true (gw_timeline_get_can_retry (timeline));
  summary = gw_timeline_dup_summary (timeline);
  g_assert_nonnull (strstr (summary, gw_error_text_for_code (CPNS_ERROR_TIMEOUT)));
  path = shot (GTK_WIDGET (timeline), "timeline-failed");
  gtk_window_destroy (GTK_WINDOW (box));
}

/* ---- device-type icons ------------------------------------------------- */

/* One device of each entity_type of PROTOCOL.md §4.4, and one whose type
 * the protocol does not name. */
static const struct { const char *name; const char *type; } typed_devices[] = {
  { "Kitchen Sensor", "sensor" }, { "Garage Door", "actuator" }, { "Alice’s Phone", "phone" },
  { "Study Computer", "computer" }, { "Fitness Band", "wearable" },
  { "Living Room Speaker", "speaker" }, { "Hall Display", "display" },
  { "Door Camera", "camera" }, { "Smart Plug", "other" }, { "Thermostat", "thermostat" },
};

static gboolean
has_image (GtkWidget  *widget,
           const char *icon_name)
{
  if (GTK_IS_IMAGE (widget) && gtk_widget_get_mapped (widget) &&
      gtk_image_get_storage_type (GTK_IMAGE (widget)) == GTK_IMAGE_ICON_NAME &&
      g_strcmp0 (gtk_image_get_icon_name (GTK_IMAGE (widget)), icon_name) == 0)
    return TRUE;
  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL; c = gtk_widget_get_next_sibling (c))
    if (has_image (c, icon_name))
      return TRUE;
  return FALSE;
}

/* The icon of every type resolves by name in the window's icon theme; the
 * app's own come from its GResource (found through the icon path that
 * GtkApplication derives from the resource base path), not from a copy
 * installed elsewhere. */
static void
assert_type_icon_resolves (GtkIconTheme *theme,
                           const char   *type)
{
  const char *icon = gw_format_type_icon (type);
  g_autoptr(GtkIconPaintable) paintable = NULL;
  g_autoptr(GFile) file = NULL;
  g_autofree char *uri = NULL;

  g_assert_true (gtk_icon_theme_has_icon (theme, icon));
  paintable = gtk_icon_theme_lookup_icon (theme, icon, NULL, 16, 1, GTK_TEXT_DIR_NONE, 0);
  g_assert_true (gtk_icon_paintable_is_symbolic (paintable));
  file = gtk_icon_paintable_get_file (paintable);
  g_assert_nonnull (file);
  uri = g_file_get_uri (file);
  g_test_message ("%s: %s", type ? type : "(none)", uri);
  g_assert_null (strstr (uri, "image-missing"));
  if (g_str_has_prefix (icon, "cpns-"))
    {
      g_autofree char *expected =
        g_strdup_printf ("resource:///io/github/cpns/Gateway/icons/scalable/devices/%s.svg", icon);
      g_assert_cmpstr (uri, ==, expected);
    }
}

static void
test_type_icons (Fixture       *f,
                 gconstpointer  data)
{
  GtkIconTheme *theme = gtk_icon_theme_get_for_display (gtk_widget_get_display (GTK_WIDGET (f->window)));
  GwDevicesPage *devices = GW_DEVICES_PAGE (gw_window_get_page (f->window, "devices"));
  GtkWidget *detail = gw_devices_page_get_detail (devices);
  g_auto(GStrv) resource_path = gtk_icon_theme_get_resource_path (theme);
  g_autofree char *path = NULL;

  /* GtkApplication: resource-base-path + "/icons/". */
  g_assert_true (g_strv_contains ((const char * const *) resource_path, "/io/github/cpns/Gateway/icons/"));
  for (guint i = 0; i < G_N_ELEMENTS (typed_devices); i++)
    assert_type_icon_resolves (theme, typed_devices[i].type);
  assert_type_icon_resolves (theme, NULL);

  enroll_and_connect (f);
  for (guint i = 0; i < G_N_ELEMENTS (typed_devices); i++)
    {
      g_autofree char *pne = g_strdup_printf ("pne-%032x", i + 1);

      feed (f, gw_test_entity_event (pne, typed_devices[i].name, typed_devices[i].type,
                                     i % 3 == 1 ? GW_ENTITY_DISCONNECTED : GW_ENTITY_CONNECTED));
    }
  gw_window_show_page (f->window, "devices");
  gw_test_wait_frames (GTK_WIDGET (f->window), 2);
  /* Each row shows its type's icon next to the name. */
  for (guint i = 0; i < G_N_ELEMENTS (typed_devices); i++)
    g_assert_true (has_image (GTK_WIDGET (devices), gw_format_type_icon (typed_devices[i].type)));

  /* The detail pane too: the unknown type with the generic icon, then
   * the sensor, as the screenshot shows it. */
  g_assert_true (gw_devices_page_select (devices, "pne-0000000000000000000000000000000a"));
  gw_test_wait_frames (GTK_WIDGET (f->window), 2);
  g_assert_true (has_image (detail, GW_FORMAT_TYPE_ICON_FALLBACK));
  g_assert_true (has_label (detail, "thermostat · Acme T-100 · SN 4411"));
  g_assert_true (gw_devices_page_select (devices, "pne-00000000000000000000000000000001"));
  gw_test_wait_frames (GTK_WIDGET (f->window), 2);
  g_assert_true (has_image (detail, "cpns-sensor-symbolic"));
  g_assert_false (has_image (detail, GW_FORMAT_TYPE_ICON_FALLBACK));
  gtk_widget_grab_focus (GTK_WIDGET (f->window));
  path = shot (GTK_WIDGET (f->window), "device-type-icons");
  g_test_message ("screenshot: %s", path);
}

/* ---- device actions and Pair by Address --------------------------------- */

static AdwMessageDialog *
find_message_dialog (void)
{
  g_autoptr(GList) toplevels = gtk_window_list_toplevels ();

  for (GList *l = toplevels; l; l = l->next)
    if (ADW_IS_MESSAGE_DIALOG (l->data) && !GW_IS_PAIRING_DIALOG (l->data) &&
        !GW_IS_APPROVAL_DIALOG (l->data) && gtk_widget_get_visible (l->data))
      return l->data;
  return NULL;
}

static void
test_device_actions (Fixture       *f,
                     gconstpointer  data)
{
  const char *id = "pne-00000000000000000000000000000009";
  GwDevicesPage *devices = GW_DEVICES_PAGE (gw_window_get_page (f->window, "devices"));
  GtkWidget *detail = gw_devices_page_get_detail (devices);
  GwNetworkPage *network = GW_NETWORK_PAGE (gw_window_get_page (f->window, "network"));
  AdwMessageDialog *dialog;
  GwCommand *cmd;
  guint n;

  enroll_and_connect (f);
  feed (f, gw_test_entity_event (id, "Kitchen TV", "tv", GW_ENTITY_DISCONNECTED));
  gw_window_show_page (f->window, "devices");
  g_assert_true (gw_devices_page_select (devices, id));

  /* Remove asks first; Cancel (the default) sends nothing. */
  n = f->commands->len;
  gtk_widget_activate_action (detail, "device.remove", NULL);
  dialog = find_message_dialog ();
  g_assert_nonnull (dialog);
  g_assert_cmpstr (adw_message_dialog_get_default_response (dialog), ==, "cancel");
  g_assert_cmpint (adw_message_dialog_get_response_appearance (dialog, "remove"), ==, ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_response (dialog, "cancel");
  gw_test_iterate (50);
  g_assert_cmpuint (f->commands->len, ==, n);
  gtk_widget_activate_action (detail, "device.remove", NULL);
  dialog = find_message_dialog ();
  adw_message_dialog_response (dialog, "remove");
  cmd = last_command (f);
  g_assert_cmpint (cmd->type, ==, GW_COMMAND_REMOVE);
  g_assert_cmpstr (cmd->pne_id, ==, id);
  gw_test_iterate (50);

  gtk_widget_activate_action (detail, "device.block", NULL);
  cmd = last_command (f);
  g_assert_cmpint (cmd->type, ==, GW_COMMAND_BLOCK);
  g_assert_true (cmd->flag);
  gtk_widget_activate_action (detail, "device.rekey", NULL);
  g_assert_cmpint (last_command (f)->type, ==, GW_COMMAND_REKEY);

  gtk_widget_activate_action (detail, "device.rename", NULL);
  dialog = find_message_dialog ();
  g_assert_nonnull (dialog);
  gtk_editable_set_text (g_object_get_data (G_OBJECT (dialog), "entry"), "  Bedroom TV ");
  adw_message_dialog_response (dialog, "rename");
  cmd = last_command (f);
  g_assert_cmpint (cmd->type, ==, GW_COMMAND_RENAME);
  g_assert_cmpstr (cmd->name, ==, "Bedroom TV");
  gw_test_iterate (50);

  /* Pair by Address… */
  gw_network_page_pair_address (network);
  dialog = find_message_dialog ();
  g_assert_nonnull (dialog);
  gtk_editable_set_text (g_object_get_data (G_OBJECT (dialog), "entry"), "192.0.2.7:7472");
  adw_message_dialog_response (dialog, "pair");
  cmd = last_command (f);
  g_assert_cmpint (cmd->type, ==, GW_COMMAND_PAIR_ADDRESS);
  g_assert_cmpstr (cmd->address, ==, "192.0.2.7:7472");
}

/* ---- notifications ----------------------------------------------------- */

/* A stand-in for the desktop's notification service (org.gtk.Notifications,
 * the interface GApplication prefers), recording what the app sends. */
static const char notifications_xml[] =
  "<node><interface name='org.gtk.Notifications'>"
  "<method name='AddNotification'><arg type='s' direction='in'/><arg type='s' direction='in'/>"
  "<arg type='a{sv}' direction='in'/></method>"
  "<method name='RemoveNotification'><arg type='s' direction='in'/><arg type='s' direction='in'/></method>"
  "</interface></node>";

typedef struct
{
  GPtrArray *added;     /* GVariant (ssa{sv}) */
  GPtrArray *removed;   /* char * id */
} Notifications;

static void
on_notification_call (GDBusConnection       *connection,
                      const char            *sender,
                      const char            *path,
                      const char            *interface,
                      const char            *method,
                      GVariant              *params,
                      GDBusMethodInvocation *invocation,
                      gpointer               data)
{
  Notifications *n = data;

  if (g_str_equal (method, "AddNotification"))
    g_ptr_array_add (n->added, g_variant_ref (params));
  else
    {
      const char *id;
      g_variant_get (params, "(&s&s)", NULL, &id);
      g_ptr_array_add (n->removed, g_strdup (id));
    }
  g_dbus_method_invocation_return_value (invocation, NULL);
}

static void
test_notifications (Fixture       *f,
                    gconstpointer  data)
{
  static const GDBusInterfaceVTable vtable = { on_notification_call };
  g_autoptr(GDBusNodeInfo) info = g_dbus_node_info_new_for_xml (notifications_xml, NULL);
  GDBusConnection *bus = g_application_get_dbus_connection (G_APPLICATION (app));
  Notifications n = { g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref),
                      g_ptr_array_new_with_free_func (g_free) };
  GwAppState *app_state = gw_application_get_state (app);
  g_autoptr(GVariant) hints = NULL;
  g_autoptr(GVariant) buttons = NULL;
  const char *id = NULL, *title = NULL, *action = NULL;
  guint reg, owner;
  gint64 end;

  /* No window of the app is open (or active). */
  gtk_window_destroy (GTK_WINDOW (f->window));
  gw_test_iterate (50);
  g_assert_null (gtk_application_get_active_window (GTK_APPLICATION (app)));

  reg = g_dbus_connection_register_object (bus, "/org/gtk/Notifications", info->interfaces[0],
                                           &vtable, &n, NULL, NULL);
  g_assert_cmpuint (reg, >, 0);
  owner = g_bus_own_name_on_connection (bus, "org.gtk.Notifications", G_BUS_NAME_OWNER_FLAGS_NONE,
                                        NULL, NULL, NULL, NULL);
  gw_test_iterate (200);

  /* The app's own state has no window open here: the prompt becomes a
   * notification with the dialog's answers as buttons. */
  {
    GwEvent *ev = gw_test_prompt_event (GW_EVENT_PROMPT_RAISED, 77, GW_PROMPT_APPROVAL, "Kitchen Sensor", 0, 100, 0);
    gw_app_state_handle_event (app_state, ev);
    gw_event_unref (ev);
  }
  end = g_get_monotonic_time () + 3 * G_USEC_PER_SEC;
  while (n.added->len == 0 && g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (n.added->len, ==, 1);
  g_variant_get (n.added->pdata[0], "(&s&s@a{sv})", NULL, &id, &hints);
  g_assert_cmpstr (id, ==, "prompt-77");
  g_assert_true (g_variant_lookup (hints, "title", "&s", &title));
  g_assert_cmpstr (title, ==, "“Kitchen Sensor” wants to connect");
  g_assert_true (g_variant_lookup (hints, "default-action", "&s", &action));
  g_assert_cmpstr (action, ==, "app.show-prompt");
  buttons = g_variant_lookup_value (hints, "buttons", G_VARIANT_TYPE ("aa{sv}"));
  g_assert_nonnull (buttons);
  g_assert_cmpuint (g_variant_n_children (buttons), ==, 3);
  {
    g_autoptr(GVariant) b = g_variant_get_child_value (buttons, 0);
    const char *label = NULL, *baction = NULL;
    g_assert_true (g_variant_lookup (b, "label", "&s", &label));
    g_assert_cmpstr (label, ==, "Deny");
    g_assert_true (g_variant_lookup (b, "action", "&s", &baction));
    g_assert_cmpstr (baction, ==, "app.answer-prompt");
  }

  /* Withdrawn by the engine: the notification goes too. */
  {
    GwEvent *ev = gw_test_prompt_event (GW_EVENT_PROMPT_WITHDRAWN, 77, GW_PROMPT_APPROVAL, "Kitchen Sensor", 0, 0,
                                        GW_WITHDRAWN_ANSWERED);
    gw_app_state_handle_event (app_state, ev);
    gw_event_unref (ev);
  }
  end = g_get_monotonic_time () + 3 * G_USEC_PER_SEC;
  while (n.removed->len == 0 && g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (n.removed->len, ==, 1);
  g_assert_cmpstr (n.removed->pdata[0], ==, "prompt-77");

  g_bus_unown_name (owner);
  g_dbus_connection_unregister_object (bus, reg);
  g_ptr_array_unref (n.added);
  g_ptr_array_unref (n.removed);
}

/* ---- activity ---------------------------------------------------------- */

static void
on_exported (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  gboolean *done = data;
  g_autoptr(GError) error = NULL;

  g_assert_true (gw_activity_page_export_finish (GW_ACTIVITY_PAGE (source), result, &error));
  g_assert_no_error (error);
  *done = TRUE;
}

static void
test_activity (Fixture       *f,
               gconstpointer  data)
{
  GwActivityPage *page = GW_ACTIVITY_PAGE (gw_window_get_page (f->window, "activity"));
  GListModel *visible = gw_activity_page_get_visible_model (page);
  g_autofree char *dir = g_dir_make_tmp ("gw-activity-XXXXXX", NULL);
  g_autofree char *file_path = g_build_filename (dir, "activity.jsonl", NULL);
  g_autoptr(GFile) file = g_file_new_for_path (file_path);
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  gboolean done = FALSE;
  guint all;

  enroll_and_connect (f);
  feed (f, gw_test_step_event (300, GW_FLOW_CONNECTION, "pne-1", "Kitchen Sensor", GW_STEP_4A, GW_STEP_DONE, -1));
  feed (f, gw_test_step_event (300, GW_FLOW_CONNECTION, "pne-1", "Kitchen Sensor", GW_STEP_4B, GW_STEP_FAILED,
                               CPNS_ERROR_SERVER_UNREACHABLE));
  feed (f, gw_test_step_event (301, GW_FLOW_CONNECTION, "pne-2", "Speaker", GW_STEP_4A, GW_STEP_DONE, -1));
  all = g_list_model_get_n_items (visible);
  g_assert_cmpuint (all, >=, 4);

  gw_activity_page_set_problems_only (page, TRUE);
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, 1);
  gw_activity_page_set_problems_only (page, FALSE);
  gw_activity_page_set_device_filter (page, "speaker");
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, 1);
  gw_activity_page_set_device_filter (page, "");
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, all);

  gw_activity_page_export_async (page, file, NULL, on_exported, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (g_file_get_contents (file_path, &contents, NULL, NULL));
  lines = g_strsplit (g_strchomp (contents), "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, all);
  /* Oldest first in the file; each line one JSON object. */
  g_assert_nonnull (strstr (lines[all - 1], "\"device\":\"Speaker\""));
  g_assert_nonnull (strstr (contents, "\"code\":\"server_unreachable\""));
  g_unlink (file_path);
  g_rmdir (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int ret;

  g_setenv ("LC_ALL", "C.UTF-8", TRUE);
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  app = gw_application_new ();
  gw_application_set_engine_enabled (app, FALSE);
  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE | G_APPLICATION_HANDLES_OPEN);
  g_assert_true (g_application_register (G_APPLICATION (app), NULL, &error));
  g_assert_no_error (error);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/ui/templates", test_templates);
  ADD ("/ui/app-actions", test_app_actions);
  ADD ("/ui/first-run", test_first_run);
  ADD ("/ui/network-page", test_network_page);
  ADD ("/ui/pairing-prompt", test_pairing_prompt);
  ADD ("/ui/expired-prompt", test_expired_prompt);
  ADD ("/ui/approval-and-denial", test_approval_and_denial);
  ADD ("/ui/inventory", test_inventory);
  ADD ("/ui/type-icons", test_type_icons);
  ADD ("/ui/timeline-live", test_timeline_live);
  ADD ("/ui/activity", test_activity);
  ADD ("/ui/device-actions", test_device_actions);
  ADD ("/ui/notifications", test_notifications);
#undef ADD

  ret = g_test_run ();
  g_object_unref (app);
  return ret;
}
