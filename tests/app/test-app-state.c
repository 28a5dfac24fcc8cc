/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The app's store reacting to engine events (no display needed). */
#define G_LOG_DOMAIN "gw-test"

#include "config.h"

#include <locale.h>

#include <glib/gi18n.h>

#include "gw-activity-item.h"
#include "gw-app-state.h"
#include "gw-error-text.h"
#include "gw-format.h"
#include "gw-test-util.h"

static void
feed (GwAppState *state,
      GwEvent    *event)
{
  gw_app_state_handle_event (state, event);
  gw_app_state_flush (state);
  gw_event_unref (event);
}

static void
on_command (GwAppState *state,
            GwCommand  *command,
            GPtrArray  *commands)
{
  g_ptr_array_add (commands, gw_command_ref (command));
}

static void
count_signal (guint *count)
{
  (*count)++;
}

static void
test_session_states (void)
{
  g_autoptr(GwAppState) state = gw_app_state_new ();
  guint changes = 0;

  g_signal_connect_swapped (state, "session-changed", G_CALLBACK (count_signal), &changes);

  g_assert_false (gw_app_state_get_enrolled (state));
  feed (state, gw_test_session_event (GW_SESSION_DISCONNECTED, 0, -1));
  g_assert_true (gw_app_state_get_enrolled (state));
  g_assert_cmpint (gw_app_state_get_session_state (state), ==, GW_SESSION_DISCONNECTED);
  g_assert_cmpstr (gw_app_state_get_session (state)->user_id, ==, "alice");

  feed (state, gw_test_session_event (GW_SESSION_RETRYING, 12, CPNS_ERROR_SERVER_UNREACHABLE));
  g_assert_cmpint (gw_app_state_get_session_state (state), ==, GW_SESSION_RETRYING);
  g_assert_cmpuint (gw_app_state_get_retry_in (state), ==, 12);
  g_assert_error (gw_app_state_get_session (state)->last_error, CPNS_ERROR, CPNS_ERROR_SERVER_UNREACHABLE);

  feed (state, gw_test_session_event (GW_SESSION_CONNECTED, 0, -1));
  g_assert_cmpint (gw_app_state_get_session_state (state), ==, GW_SESSION_CONNECTED);
  g_assert_cmpuint (gw_app_state_get_retry_in (state), ==, 0);
  g_assert_null (gw_app_state_get_session (state)->last_error);
  g_assert_cmpuint (changes, ==, 3);
  /* Each state change is in the activity log, newest first. */
  {
    g_autoptr(GwActivityItem) a = g_list_model_get_item (gw_app_state_get_activity (state), 0);
    g_assert_cmpstr (gw_activity_item_get_outcome (a), ==, "Connected");
    g_assert_false (gw_activity_item_get_problem (a));
  }
  {
    g_autoptr(GwActivityItem) a = g_list_model_get_item (gw_app_state_get_activity (state), 1);
    g_assert_true (gw_activity_item_get_problem (a));
  }
}

/* A successful enrollment opens the session (the person asked to join);
 * a failed one, or an enrolled gateway starting up, sends nothing. */
static void
test_enrollment_connects (void)
{
  g_autoptr(GwAppState) state = gw_app_state_new ();
  g_autoptr(GPtrArray) commands = g_ptr_array_new_with_free_func ((GDestroyNotify) gw_command_unref);
  GwEvent *event;

  g_signal_connect (state, "command", G_CALLBACK (on_command), commands);

  event = gw_event_new (GW_EVENT_ENROLLMENT);
  event->error = g_error_new_literal (CPNS_ERROR, CPNS_ERROR_UNAUTHORIZED, "code used");
  feed (state, event);
  g_assert_cmpuint (commands->len, ==, 0);
  g_assert_false (gw_app_state_get_enrolled (state));

  event = gw_test_session_event (GW_SESSION_DISCONNECTED, 0, -1);
  event->type = GW_EVENT_ENROLLMENT;
  feed (state, event);
  g_assert_true (gw_app_state_get_enrolled (state));
  g_assert_cmpuint (commands->len, ==, 1);
  g_assert_cmpint (((GwCommand *) commands->pdata[0])->type, ==, GW_COMMAND_CONNECT);

  /* A later start reports the session (disconnected): no connect of its own. */
  {
    g_autoptr(GwAppState) later = gw_app_state_new ();
    g_autoptr(GPtrArray) later_commands = g_ptr_array_new_with_free_func ((GDestroyNotify) gw_command_unref);

    g_signal_connect (later, "command", G_CALLBACK (on_command), later_commands);
    feed (later, gw_test_session_event (GW_SESSION_DISCONNECTED, 0, -1));
    g_assert_true (gw_app_state_get_enrolled (later));
    g_assert_cmpuint (later_commands->len, ==, 0);
  }
}

static void
test_prompts (void)
{
  g_autoptr(GwAppState) state = gw_app_state_new ();
  g_autoptr(GPtrArray) commands = g_ptr_array_new_with_free_func ((GDestroyNotify) gw_command_unref);
  GListModel *prompts = gw_app_state_get_prompts (state);
  GwPromptItem *p;
  GwCommand *cmd;

  g_signal_connect (state, "command", G_CALLBACK (on_command), commands);

  feed (state, gw_test_prompt_event (GW_EVENT_PROMPT_RAISED, 7, GW_PROMPT_PAIRING_CODE, "Kitchen Sensor", 482913, 120, 0));
  g_assert_cmpuint (g_list_model_get_n_items (prompts), ==, 1);
  g_assert_cmpuint (gw_app_state_get_n_waiting (state), ==, 1);
  p = gw_app_state_lookup_prompt (state, 7);
  g_assert_nonnull (p);
  g_assert_cmpint (gw_prompt_item_get_status (p), ==, GW_PROMPT_STATUS_PENDING);
  g_assert_cmpint (gw_prompt_item_get_remaining (p), >=, 119);
  g_assert_true (g_str_has_suffix (gw_prompt_item_get_status_text (p), "left"));

  /* Answering sends exactly one command to the engine. */
  gw_app_state_answer_prompt (state, 7, GW_ANSWER_CONFIRM);
  g_assert_cmpuint (commands->len, ==, 1);
  cmd = commands->pdata[0];
  g_assert_cmpint (cmd->type, ==, GW_COMMAND_ANSWER_PROMPT);
  g_assert_cmpuint (cmd->prompt_id, ==, 7);
  g_assert_cmpint (cmd->answer, ==, GW_ANSWER_CONFIRM);

  /* Answered prompts leave the list. */
  feed (state, gw_test_prompt_event (GW_EVENT_PROMPT_WITHDRAWN, 7, GW_PROMPT_PAIRING_CODE, "Kitchen Sensor", 482913, 0,
                                     GW_WITHDRAWN_ANSWERED));
  g_assert_cmpuint (g_list_model_get_n_items (prompts), ==, 0);
  g_assert_cmpuint (gw_app_state_get_n_waiting (state), ==, 0);

  /* Expired prompts stay, saying so, until dismissed; answering them does nothing. */
  feed (state, gw_test_prompt_event (GW_EVENT_PROMPT_RAISED, 8, GW_PROMPT_APPROVAL, "Kitchen Sensor", 0, 120, 0));
  feed (state, gw_test_prompt_event (GW_EVENT_PROMPT_WITHDRAWN, 8, GW_PROMPT_APPROVAL, "Kitchen Sensor", 0, 0,
                                     GW_WITHDRAWN_EXPIRED));
  g_assert_cmpuint (g_list_model_get_n_items (prompts), ==, 1);
  g_assert_cmpuint (gw_app_state_get_n_waiting (state), ==, 0);
  p = gw_app_state_lookup_prompt (state, 8);
  g_assert_cmpint (gw_prompt_item_get_status (p), ==, GW_PROMPT_STATUS_EXPIRED);
  g_assert_cmpstr (gw_prompt_item_get_status_text (p), ==, "Expired — the device was denied");
  gw_app_state_answer_prompt (state, 8, GW_ANSWER_ALLOW_ONCE);
  g_assert_cmpuint (commands->len, ==, 1);
  gw_app_state_dismiss_prompt (state, p);
  g_assert_cmpuint (g_list_model_get_n_items (prompts), ==, 0);

  /* A device that leaves takes its prompt with it. */
  feed (state, gw_test_prompt_event (GW_EVENT_PROMPT_RAISED, 9, GW_PROMPT_PAIRING_CODE, "Phone", 1, 60, 0));
  feed (state, gw_test_prompt_event (GW_EVENT_PROMPT_WITHDRAWN, 9, GW_PROMPT_PAIRING_CODE, "Phone", 1, 0,
                                     GW_WITHDRAWN_PEER_LEFT));
  g_assert_cmpuint (g_list_model_get_n_items (prompts), ==, 0);
}

static void
test_entities (void)
{
  g_autoptr(GwAppState) state = gw_app_state_new ();
  GListModel *entities = gw_app_state_get_entities (state);
  GwEntityItem *e;
  GwEvent *ev;

  feed (state, gw_test_entity_event ("pne-00000000000000000000000000000001", "Kitchen Sensor", "sensor", GW_ENTITY_CONNECTED));
  feed (state, gw_test_entity_event ("pne-00000000000000000000000000000002", "Speaker", "speaker", GW_ENTITY_DISCONNECTED));
  g_assert_cmpuint (g_list_model_get_n_items (entities), ==, 2);
  g_assert_cmpuint (gw_app_state_get_n_connected (state), ==, 1);

  e = gw_app_state_lookup_entity (state, "pne-00000000000000000000000000000002");
  g_assert_cmpstr (gw_entity_item_get_name (e), ==, "Speaker");
  g_assert_cmpstr (gw_entity_item_get_state_text (e), ==, "Disconnected");
  g_assert_nonnull (strstr (gw_entity_item_get_search_text (e), "humidity"));

  /* A change updates the same item in place. */
  ev = gw_test_entity_event ("pne-00000000000000000000000000000002", "Living Room", "speaker", GW_ENTITY_CONNECTED);
  feed (state, ev);
  g_assert_cmpuint (g_list_model_get_n_items (entities), ==, 2);
  g_assert_true (e == gw_app_state_lookup_entity (state, "pne-00000000000000000000000000000002"));
  g_assert_cmpstr (gw_entity_item_get_name (e), ==, "Living Room");
  g_assert_cmpuint (gw_app_state_get_n_connected (state), ==, 2);

  ev = gw_event_new (GW_EVENT_ENTITY_REMOVED);
  ev->entity = g_new0 (GwEntityInfo, 1);
  ev->entity->pne_id = g_strdup ("pne-00000000000000000000000000000001");
  feed (state, ev);
  g_assert_cmpuint (g_list_model_get_n_items (entities), ==, 1);
  g_assert_null (gw_app_state_lookup_entity (state, "pne-00000000000000000000000000000001"));
  g_assert_cmpuint (gw_app_state_get_n_connected (state), ==, 1);
}

static void
test_flow_timeline (void)
{
  g_autoptr(GwAppState) state = gw_app_state_new ();
  const char *id = "pne-8c1e3f0a9b2d4c6e8f1a3b5c7d9e5a6b";
  GwFlowItem *journey;
  const GwFlowStepRecord *r;

  /* A pairing flow does not know the device's ID until 3b–d. */
  feed (state, gw_test_step_event (1, GW_FLOW_PAIRING, NULL, "Kitchen Sensor", GW_STEP_1, GW_STEP_DONE, -1));
  feed (state, gw_test_step_event (1, GW_FLOW_PAIRING, NULL, "Kitchen Sensor", GW_STEP_2, GW_STEP_RUNNING, -1));
  g_assert_nonnull (gw_app_state_get_active_flow (state));
  g_assert_true (gw_flow_item_is_running (gw_app_state_get_active_flow (state)));
  feed (state, gw_test_step_event (1, GW_FLOW_PAIRING, NULL, "Kitchen Sensor", GW_STEP_2, GW_STEP_DONE, -1));
  feed (state, gw_test_step_event (1, GW_FLOW_PAIRING, NULL, "Kitchen Sensor", GW_STEP_3A, GW_STEP_SKIPPED, -1));
  feed (state, gw_test_step_event (1, GW_FLOW_PAIRING, id, "Kitchen Sensor", GW_STEP_3BD, GW_STEP_DONE, -1));
  feed (state, gw_test_step_event (1, GW_FLOW_PAIRING, id, "Kitchen Sensor", GW_STEP_3E, GW_STEP_DONE, -1));

  journey = gw_app_state_get_journey (state, id);
  g_assert_true (gw_app_state_get_active_flow (state) == journey);
  r = gw_flow_item_get_step (journey, GW_STEP_1);
  g_assert_true (r->present);
  g_assert_cmpint (r->outcome, ==, GW_STEP_DONE);
  g_assert_cmpint (gw_flow_item_get_step (journey, GW_STEP_3A)->outcome, ==, GW_STEP_SKIPPED);
  g_assert_false (gw_flow_item_is_complete (journey));

  /* The connection flow adds steps 4 and 5. */
  for (GwStep s = GW_STEP_4A; s <= GW_STEP_5B; s++)
    feed (state, gw_test_step_event (2, GW_FLOW_CONNECTION, id, "Kitchen Sensor", s, GW_STEP_DONE, -1));
  g_assert_true (gw_flow_item_is_complete (journey));
  g_assert_false (gw_flow_item_is_running (journey));

  /* A new failing connection attempt replaces steps 4–5, not 1–3. */
  feed (state, gw_test_step_event (3, GW_FLOW_CONNECTION, id, "Kitchen Sensor", GW_STEP_4A, GW_STEP_DONE, -1));
  feed (state, gw_test_step_event (3, GW_FLOW_CONNECTION, id, "Kitchen Sensor", GW_STEP_4B, GW_STEP_FAILED,
                                   CPNS_ERROR_SERVER_UNREACHABLE));
  g_assert_false (gw_flow_item_get_step (journey, GW_STEP_5B)->present);
  g_assert_true (gw_flow_item_get_step (journey, GW_STEP_3E)->present);
  g_assert_error (gw_flow_item_get_step (journey, GW_STEP_4B)->error, CPNS_ERROR, CPNS_ERROR_SERVER_UNREACHABLE);
  {
    g_autoptr(GwActivityItem) a = g_list_model_get_item (gw_app_state_get_activity (state), 0);
    g_assert_true (gw_activity_item_get_problem (a));
    g_assert_cmpstr (gw_activity_item_get_detail (a), ==, gw_error_text_for_code (CPNS_ERROR_SERVER_UNREACHABLE));
  }
}

static void
test_pairing_window_and_discovery (void)
{
  g_autoptr(GwAppState) state = gw_app_state_new ();
  GwEvent *ev;

  feed (state, gw_test_pairing_window_event (TRUE, 118));
  g_assert_true (gw_app_state_get_pairing_open (state));
  g_assert_cmpuint (gw_app_state_get_pairing_remaining (state), ==, 118);
  feed (state, gw_test_discovered_event ("192.0.2.1:7472/n1", "Kitchen Sensor", "sensor", "192.0.2.1:7472"));
  feed (state, gw_test_discovered_event ("192.0.2.1:7472/n1", "Kitchen Sensor 2", "sensor", "192.0.2.1:7472"));
  g_assert_cmpuint (g_list_model_get_n_items (gw_app_state_get_discovered (state)), ==, 1);
  ev = gw_test_discovered_event ("192.0.2.1:7472/n1", NULL, NULL, NULL);
  ev->type = GW_EVENT_DISCOVERED_EXPIRED;
  feed (state, ev);
  g_assert_cmpuint (g_list_model_get_n_items (gw_app_state_get_discovered (state)), ==, 0);
  feed (state, gw_test_pairing_window_event (FALSE, 0));
  g_assert_false (gw_app_state_get_pairing_open (state));
}

static void
test_activity_export_json (void)
{
  g_autoptr(GwActivityItem) a = gw_activity_item_new ((gint64) 1764525600 * G_USEC_PER_SEC, "flow_step", "pne-1", "Sensor",
                                                     "Step 4b", "Failed", TRUE, "The server could not be reached.",
                                                     "server_unreachable");
  g_autofree char *json = gw_activity_item_to_json (a);
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *o;

  g_assert_null (strchr (json, '\n'));
  g_assert_true (json_parser_load_from_data (parser, json, -1, NULL));
  o = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (o, "code"), ==, "server_unreachable");
  g_assert_true (json_object_get_boolean_member (o, "problem"));
  g_assert_cmpstr (json_object_get_string_member (o, "time"), ==, "2025-11-30T18:00:00Z");
}

static void
test_error_texts (void)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  /* Every code has its own sentence that says what to do. */
  for (int code = 0; code < CPNS_ERROR_LAST_CODE; code++)
    {
      const char *text = gw_error_text_for_code ((CpnsErrorCode) code);
      g_assert_nonnull (text);
      g_assert_cmpuint (strlen (text), >, 20);
      g_assert_false (g_hash_table_contains (seen, text));
      g_hash_table_add (seen, (gpointer) text);
    }
  {
    g_autoptr(GError) e = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "x");
    g_assert_nonnull (gw_error_text (e));
  }
}

static void
test_format (void)
{
  g_autofree char *code = gw_format_code (482913);
  g_autofree char *code0 = gw_format_code (7);
  g_autofree char *left = gw_format_remaining (112);
  g_autofree char *id = gw_format_short_id ("pne-8c1e3f0a9b2d4c6e8f1a3b5c7d9e5a6b");

  g_assert_cmpstr (code, ==, "482 913");
  g_assert_cmpstr (code0, ==, "000 007");
  g_assert_cmpstr (left, ==, "1:52");
  g_assert_cmpstr (id, ==, "pne-8c1e…5a6b");
}

/* Every entity_type of PROTOCOL.md §4.4 has a display name; unknown
 * types stay as they are; the entity item and its search use it. */
static void
test_type_names (void)
{
  static const struct { const char *type; const char *name; } known[] = {
    { "sensor", "Sensor" }, { "actuator", "Actuator" }, { "phone", "Phone" },
    { "computer", "Computer" }, { "wearable", "Wearable" }, { "speaker", "Speaker" },
    { "display", "Display" }, { "camera", "Camera" }, { "other", "Other" },
  };
  g_autoptr(GwAppState) state = gw_app_state_new ();
  GwEntityItem *e;

  for (guint i = 0; i < G_N_ELEMENTS (known); i++)
    g_assert_cmpstr (gw_format_type_name (known[i].type), ==, known[i].name);
  g_assert_cmpstr (gw_format_type_name ("thermostat"), ==, "thermostat");
  g_assert_cmpstr (gw_format_type_name ("Sensor"), ==, "Sensor");
  g_assert_cmpstr (gw_format_type_name (NULL), ==, "Device");
  g_assert_cmpstr (gw_format_type_name (""), ==, "Device");

  feed (state, gw_test_entity_event ("pne-00000000000000000000000000000001", "Kitchen", "speaker", GW_ENTITY_CONNECTED));
  e = gw_app_state_lookup_entity (state, "pne-00000000000000000000000000000001");
  g_assert_nonnull (e);
  g_assert_cmpstr (gw_entity_item_get_entity_type (e), ==, "speaker");
  g_assert_cmpstr (gw_entity_item_get_type_name (e), ==, "Speaker");
  {
    g_autofree char *name = NULL;
    g_object_get (e, "type-name", &name, NULL);
    g_assert_cmpstr (name, ==, "Speaker");
  }
}

/* Every entity_type has its icon from the same table: the app's own for
 * sensor, actuator, wearable and other (unknown types and none too), the
 * Adwaita theme's for the rest. That they resolve is test-widgets'. */
static void
test_type_icons (void)
{
  static const struct { const char *type; const char *icon; } known[] = {
    { "sensor", "cpns-sensor-symbolic" }, { "actuator", "cpns-actuator-symbolic" },
    { "phone", "phone-symbolic" }, { "computer", "computer-symbolic" },
    { "wearable", "cpns-wearable-symbolic" }, { "speaker", "audio-speakers-symbolic" },
    { "display", "video-display-symbolic" }, { "camera", "camera-web-symbolic" },
    { "other", "cpns-device-other-symbolic" },
  };
  g_autoptr(GwAppState) state = gw_app_state_new ();
  g_autofree char *icon = NULL;
  GwEntityItem *e;

  for (guint i = 0; i < G_N_ELEMENTS (known); i++)
    g_assert_cmpstr (gw_format_type_icon (known[i].type), ==, known[i].icon);
  /* Not a near match: a "thermostat" is not taken for anything it contains. */
  g_assert_cmpstr (gw_format_type_icon ("thermostat"), ==, GW_FORMAT_TYPE_ICON_FALLBACK);
  g_assert_cmpstr (gw_format_type_icon ("Sensor"), ==, GW_FORMAT_TYPE_ICON_FALLBACK);
  g_assert_cmpstr (gw_format_type_icon (""), ==, GW_FORMAT_TYPE_ICON_FALLBACK);
  g_assert_cmpstr (gw_format_type_icon (NULL), ==, GW_FORMAT_TYPE_ICON_FALLBACK);
  g_assert_cmpstr (GW_FORMAT_TYPE_ICON_FALLBACK, ==, "cpns-device-other-symbolic");

  feed (state, gw_test_entity_event ("pne-00000000000000000000000000000001", "Wrist", "wearable", GW_ENTITY_CONNECTED));
  e = gw_app_state_lookup_entity (state, "pne-00000000000000000000000000000001");
  g_assert_nonnull (e);
  g_object_get (e, "type-icon", &icon, NULL);
  g_assert_cmpstr (icon, ==, "cpns-wearable-symbolic");
}

/* The names are translated (German and French catalogues of this build). */
static void
test_type_names_translated (void)
{
  g_autofree char *locale_dir = g_build_filename (g_getenv ("CPNS_BUILD_ROOT"), "po", NULL);
  g_autofree char *mo = g_build_filename (locale_dir, "de", "LC_MESSAGES", GETTEXT_PACKAGE ".mo", NULL);

  if (!g_file_test (mo, G_FILE_TEST_EXISTS))
    {
      g_test_skip ("the build's message catalogues are not built");
      return;
    }
  if (g_test_subprocess ())
    {
      bindtextdomain (GETTEXT_PACKAGE, locale_dir);
      bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
      textdomain (GETTEXT_PACKAGE);
      g_setenv ("LANGUAGE", g_str_has_suffix (g_test_get_path (), "/de") ? "de" : "fr", TRUE);
      setlocale (LC_ALL, "");
      if (g_str_equal (g_getenv ("LANGUAGE"), "de"))
        {
          g_assert_cmpstr (gw_format_type_name ("camera"), ==, "Kamera");
          g_assert_cmpstr (gw_format_type_name ("speaker"), ==, "Lautsprecher");
          g_assert_cmpstr (gw_format_type_name (NULL), ==, "Gerät");
        }
      else
        {
          g_assert_cmpstr (gw_format_type_name ("sensor"), ==, "Capteur");
          g_assert_cmpstr (gw_format_type_name ("display"), ==, "Écran");
        }
      g_assert_cmpstr (gw_format_type_name ("thermostat"), ==, "thermostat");
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

int
main (int   argc,
      char *argv[])
{
  g_setenv ("LC_ALL", "C.UTF-8", TRUE);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/app-state/session", test_session_states);
  g_test_add_func ("/app-state/enrollment-connects", test_enrollment_connects);
  g_test_add_func ("/app-state/prompts", test_prompts);
  g_test_add_func ("/app-state/entities", test_entities);
  g_test_add_func ("/app-state/flow-timeline", test_flow_timeline);
  g_test_add_func ("/app-state/pairing-window-discovery", test_pairing_window_and_discovery);
  g_test_add_func ("/app-state/activity-json", test_activity_export_json);
  g_test_add_func ("/app-state/error-texts", test_error_texts);
  g_test_add_func ("/app-state/format", test_format);
  g_test_add_func ("/app-state/type-names", test_type_names);
  g_test_add_func ("/app-state/type-icons", test_type_icons);
  g_test_add_func ("/app-state/type-names/de", test_type_names_translated);
  g_test_add_func ("/app-state/type-names/fr", test_type_names_translated);
  return g_test_run ();
}
