/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Engine state machines with deterministic time (a fake clock): prompts
 * and their deadlines, the pairing window countdown, a flow's step
 * timeline; then the engine thread itself. */
#include "config.h"

#include "cpns-discovery.h"
#include "gw-core.h"
#include "gw-discovery.h"
#include "gw-engine.h"
#include "gw-event-private.h"
#include "gw-flow.h"
#include "gw-prompt.h"

/* ------------------------------------------------------------------ */
/* Prompts */

typedef struct
{
  GPtrArray        *events;
  guint             calls;
  GwPromptAnswer    answer;
  GwWithdrawReason  reason;
} PromptLog;

static void
collect (GwEvent  *event,
         gpointer  data)
{
  GPtrArray *events = data;

  g_ptr_array_add (events, event);
}

static void
prompt_done (GwPromptAnswer   answer,
             GwWithdrawReason reason,
             gpointer         data)
{
  PromptLog *log = data;

  log->calls++;
  log->answer = answer;
  log->reason = reason;
}

static GwPromptInfo *
pairing_prompt (void)
{
  GwPromptInfo *info = g_new0 (GwPromptInfo, 1);

  info->kind = GW_PROMPT_PAIRING_CODE;
  info->pne_name = g_strdup ("Thermo");
  info->code = 123456;
  return info;
}

static void
test_prompt_expiry (void)
{
  g_autoptr(GwClock) clock = gw_clock_new_fake ((gint64) 1000 * G_USEC_PER_SEC);
  g_autoptr(GPtrArray) events = g_ptr_array_new_with_free_func ((GDestroyNotify) gw_event_unref);
  PromptLog log = { events };
  GwPrompts *prompts = gw_prompts_new (clock, collect, events);
  GwEvent *e;
  guint64 id;

  id = gw_prompts_raise (prompts, pairing_prompt (), 120, prompt_done, &log);
  g_assert_cmpuint (events->len, ==, 1);
  e = events->pdata[0];
  g_assert_cmpint (e->type, ==, GW_EVENT_PROMPT_RAISED);
  g_assert_cmpuint (e->prompt->id, ==, id);
  g_assert_cmpint (e->prompt->deadline, ==, (gint64) 1120 * G_USEC_PER_SEC);

  gw_clock_advance (clock, 119 * 1000);
  g_assert_cmpuint (events->len, ==, 1);
  g_assert_cmpuint (log.calls, ==, 0);
  gw_clock_advance (clock, 1000);
  /* No silent expiry: an event, and the safe answer. */
  g_assert_cmpuint (events->len, ==, 2);
  e = events->pdata[1];
  g_assert_cmpint (e->type, ==, GW_EVENT_PROMPT_WITHDRAWN);
  g_assert_cmpint (e->withdraw_reason, ==, GW_WITHDRAWN_EXPIRED);
  g_assert_cmpuint (log.calls, ==, 1);
  g_assert_cmpint (log.answer, ==, GW_ANSWER_REJECT);
  g_assert_cmpint (log.reason, ==, GW_WITHDRAWN_EXPIRED);
  g_assert_cmpuint (gw_prompts_count (prompts), ==, 0);
  gw_prompts_free (prompts);
}

static void
test_prompt_answers (void)
{
  g_autoptr(GwClock) clock = gw_clock_new_fake (0);
  g_autoptr(GPtrArray) events = g_ptr_array_new_with_free_func ((GDestroyNotify) gw_event_unref);
  PromptLog log = { events };
  GwPrompts *prompts = gw_prompts_new (clock, collect, events);
  g_autoptr(GError) error = NULL;
  GwPromptInfo *approval = g_new0 (GwPromptInfo, 1);
  guint64 id, id2, id3;

  approval->kind = GW_PROMPT_APPROVAL;
  id = gw_prompts_raise (prompts, approval, 120, prompt_done, &log);
  /* A pairing answer does not fit an approval. */
  g_assert_false (gw_prompts_answer (prompts, id, GW_ANSWER_CONFIRM, &error));
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST);
  g_clear_error (&error);
  g_assert_true (gw_prompts_answer (prompts, id, GW_ANSWER_ALLOW_ALWAYS, &error));
  g_assert_no_error (error);
  g_assert_cmpint (log.answer, ==, GW_ANSWER_ALLOW_ALWAYS);
  g_assert_cmpint (log.reason, ==, GW_WITHDRAWN_ANSWERED);
  /* Answered once only; the timer is gone too. */
  g_assert_false (gw_prompts_answer (prompts, id, GW_ANSWER_DENY, &error));
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_NOT_FOUND);
  gw_clock_advance (clock, 200 * 1000);
  g_assert_cmpuint (log.calls, ==, 1);

  /* The device leaves: withdrawn, nobody called back. */
  id2 = gw_prompts_raise (prompts, pairing_prompt (), 120, prompt_done, &log);
  gw_prompts_withdraw (prompts, id2, GW_WITHDRAWN_PEER_LEFT);
  g_assert_cmpuint (log.calls, ==, 1);
  g_assert_cmpint (((GwEvent *) events->pdata[events->len - 1])->withdraw_reason, ==, GW_WITHDRAWN_PEER_LEFT);

  /* Stopping withdraws the rest with CANCELLED. */
  id3 = gw_prompts_raise (prompts, pairing_prompt (), 120, prompt_done, &log);
  g_assert_cmpuint (id3, >, id2);
  gw_prompts_cancel_all (prompts);
  g_assert_cmpuint (log.calls, ==, 2);
  g_assert_cmpint (log.reason, ==, GW_WITHDRAWN_CANCELLED);
  g_assert_cmpint (log.answer, ==, GW_ANSWER_REJECT);
  g_assert_cmpuint (gw_prompts_count (prompts), ==, 0);
  gw_prompts_free (prompts);
}

/* ------------------------------------------------------------------ */
/* A core on this thread with a fake clock */

static GwCore *
test_core (GwClock   *clock,
           GPtrArray *events)
{
  g_autoptr(GwEngineConfig) config = gw_engine_config_new ();
  g_autoptr(GError) error = NULL;
  GwCore *core;

  config->data_dir = g_dir_make_tmp ("gw-core-XXXXXX", &error);
  g_assert_no_error (error);
  config->discovery_enabled = FALSE;
  core = gw_core_new (config, g_main_context_default (), clock, collect, events, &error);
  g_assert_no_error (error);
  core->discovery = gw_discovery_new (core, FALSE, &error);
  g_assert_no_error (error);
  return core;
}

static void
test_pairing_window_countdown (void)
{
  GwClock *clock = gw_clock_new_fake ((gint64) 5000 * G_USEC_PER_SEC);
  g_autoptr(GPtrArray) events = g_ptr_array_new_with_free_func ((GDestroyNotify) gw_event_unref);
  GwCore *core = test_core (clock, events);
  GwEvent *e;

  gw_discovery_open_window (core->discovery, 3);
  g_assert_true (gw_discovery_may_pair (core->discovery, "192.0.2.1"));
  e = events->pdata[events->len - 1];
  g_assert_cmpint (e->type, ==, GW_EVENT_PAIRING_WINDOW);
  g_assert_true (e->pairing_window->open);
  g_assert_cmpuint (e->pairing_window->remaining_s, ==, 3);
  g_assert_cmpint (e->pairing_window->closes_at, ==, (gint64) 5003 * G_USEC_PER_SEC);

  /* One event per second, then closed. */
  for (guint left = 2; left >= 1; left--)
    {
      gw_clock_advance (clock, 1000);
      e = events->pdata[events->len - 1];
      g_assert_true (e->pairing_window->open);
      g_assert_cmpuint (e->pairing_window->remaining_s, ==, left);
    }
  gw_clock_advance (clock, 1000);
  e = events->pdata[events->len - 1];
  g_assert_false (e->pairing_window->open);
  g_assert_false (gw_discovery_may_pair (core->discovery, "192.0.2.1"));

  /* 20 failed pairings close it early. */
  gw_discovery_open_window (core->discovery, 900);
  for (guint i = 0; i < 19; i++)
    gw_discovery_note_failure (core->discovery);
  g_assert_true (gw_discovery_may_pair (core->discovery, "192.0.2.1"));
  gw_discovery_note_failure (core->discovery);
  g_assert_false (gw_discovery_may_pair (core->discovery, "192.0.2.1"));

  gw_core_stop (core);
  gw_core_free (core);
}

static void
test_discovered_expiry (void)
{
  GwClock *clock = gw_clock_new_fake ((gint64) 100 * G_USEC_PER_SEC);
  g_autoptr(GPtrArray) events = g_ptr_array_new_with_free_func ((GDestroyNotify) gw_event_unref);
  GwCore *core = test_core (clock, events);
  guint8 nonce[CPNS_NONCE_LEN] = { 1, 2, 3 };
  g_autoptr(CpnsMessage) request = cpns_discovery_new_pne (FALSE, "Doorbell", "camera", nonce);
  g_autoptr(GSocketAddress) from = g_inet_socket_address_new_from_string ("192.0.2.7", 40000);
  g_autoptr(GError) error = NULL;
  GwEvent *e;
  guint before;

  gw_discovery_handle_datagram (core->discovery, request, from);
  e = events->pdata[events->len - 1];
  g_assert_cmpint (e->type, ==, GW_EVENT_DISCOVERED);
  g_assert_cmpstr (e->discovered->name, ==, "Doorbell");
  g_assert_cmpstr (e->discovered->entity_type, ==, "camera");
  g_assert_cmpstr (e->discovered->address, ==, "192.0.2.7:40000");
  g_assert_true (g_str_has_prefix (e->discovered->id, "pne/"));

  /* The same round heard a second time from another source address (by a
   * unicast target as well as by multicast) is the same device: one entry,
   * the address first heard. */
  {
    g_autoptr(GSocketAddress) loopback = g_inet_socket_address_new_from_string ("127.0.0.1", 40000);
    GwEvent *again;

    gw_discovery_handle_datagram (core->discovery, request, loopback);
    again = events->pdata[events->len - 1];
    g_assert_cmpint (again->type, ==, GW_EVENT_DISCOVERED);
    g_assert_cmpstr (again->discovered->id, ==, e->discovered->id);
    g_assert_cmpstr (again->discovered->address, ==, "192.0.2.7:40000");
    e = again;
  }

  /* Picking it lets that host pair for a while, window closed or not. */
  g_assert_false (gw_discovery_may_pair (core->discovery, "192.0.2.7"));
  g_assert_true (gw_discovery_pair_discovered (core->discovery, e->discovered->id, &error));
  g_assert_no_error (error);
  g_assert_true (gw_discovery_may_pair (core->discovery, "192.0.2.7"));
  g_assert_false (gw_discovery_may_pair (core->discovery, "192.0.2.8"));
  g_assert_false (gw_discovery_pair_discovered (core->discovery, "nope", &error));
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_NOT_FOUND);

  /* Heard again at 20 s: the 30 s start over. */
  before = events->len;
  gw_clock_advance (clock, 20 * 1000);
  gw_discovery_handle_datagram (core->discovery, request, from);
  g_assert_cmpuint (events->len, ==, before + 1);
  gw_clock_advance (clock, 29 * 1000);
  for (guint i = before; i < events->len; i++)
    g_assert_cmpint (((GwEvent *) events->pdata[i])->type, !=, GW_EVENT_DISCOVERED_EXPIRED);
  gw_clock_advance (clock, 2 * 1000);
  e = events->pdata[events->len - 1];
  g_assert_cmpint (e->type, ==, GW_EVENT_DISCOVERED_EXPIRED);
  g_assert_cmpstr (e->discovered->name, ==, "Doorbell");

  /* The permit lasts 120 s. */
  gw_clock_advance (clock, 70 * 1000);
  g_assert_false (gw_discovery_may_pair (core->discovery, "192.0.2.7"));

  /* Switched off: nothing is listed. */
  gw_discovery_set_enabled (core->discovery, FALSE);
  before = events->len;
  gw_discovery_handle_datagram (core->discovery, request, from);
  g_assert_cmpuint (events->len, ==, before);

  gw_core_stop (core);
  gw_core_free (core);
}

static void
test_flow_timeline (void)
{
  GwClock *clock = gw_clock_new_fake ((gint64) 7 * G_USEC_PER_SEC);
  g_autoptr(GPtrArray) events = g_ptr_array_new_with_free_func ((GDestroyNotify) gw_event_unref);
  GwCore *core = test_core (clock, events);
  g_autoptr(GError) error = gw_error_new_advice (CPNS_ERROR_SERVER_UNREACHABLE, "No server");
  g_autoptr(GPtrArray) history = NULL;
  g_autoptr(GString) trace = g_string_new (NULL);
  GwFlow *flow;
  GwEvent *e;

  flow = gw_flow_new (core, GW_FLOW_PAIRING, NULL, "Thermo");
  gw_flow_begin (flow, GW_STEP_2);
  gw_clock_advance (clock, 1500);
  gw_flow_done (flow, "confirmed");
  gw_flow_skip (flow, GW_STEP_3A, "no credentials");
  gw_flow_begin (flow, GW_STEP_3BD);
  gw_flow_set_pne (flow, "pne-0123456789abcdef0123456789abcdef", NULL);
  gw_flow_begin (flow, GW_STEP_1);   /* ends 3b-d as done */
  gw_flow_fail (flow, error);
  gw_flow_fail (flow, error);        /* one failure per flow */
  gw_flow_free (flow);

  for (guint i = 0; i < events->len; i++)
    {
      e = events->pdata[i];
      g_assert_cmpint (e->type, ==, GW_EVENT_FLOW_STEP);
      g_string_append_printf (trace, "%s%s:%s", i ? " " : "", gw_step_to_string (e->step->step),
                              gw_step_outcome_to_string (e->step->outcome));
    }
  g_assert_cmpstr (trace->str, ==,
                   "2:running 2:done 3a:skipped 3b-d:running 3b-d:done 1:running 1:failed");
  e = events->pdata[1];
  g_assert_cmpint (e->step->finished_at - e->step->started_at, ==, 1500 * 1000);
  e = events->pdata[events->len - 1];
  g_assert_error (e->step->error, CPNS_ERROR, CPNS_ERROR_SERVER_UNREACHABLE);
  g_assert_cmpstr (e->step->pne_id, ==, "pne-0123456789abcdef0123456789abcdef");
  /* The failure tells a person what to do. */
  g_assert_nonnull (strstr (e->step->error->message, "Check the network"));

  /* A flow dropped while a step runs fails it (CLOSED). */
  flow = gw_flow_new (core, GW_FLOW_CONNECTION, NULL, NULL);
  gw_flow_begin (flow, GW_STEP_4A);
  gw_flow_free (flow);
  e = events->pdata[events->len - 1];
  g_assert_cmpint (e->step->outcome, ==, GW_STEP_FAILED);
  g_assert_error (e->step->error, CPNS_ERROR, CPNS_ERROR_CLOSED);

  /* The registry holds the same history for the UI. */
  history = gw_registry_list_steps (core->registry, 0);
  g_assert_cmpuint (history->len, ==, 5);

  gw_core_stop (core);
  gw_core_free (core);
}

/* ------------------------------------------------------------------ */
/* The engine thread */

typedef struct
{
  GPtrArray *events;
  GThread   *owner;
} EngineLog;

static void
on_engine_event (GwEvent  *event,
                 gpointer  data)
{
  EngineLog *log = data;

  /* Events arrive on the caller's context, i.e. this thread. */
  g_assert_true (g_thread_self () == log->owner);
  g_ptr_array_add (log->events, gw_event_ref (event));
}

static GwEvent *
wait_event (EngineLog   *log,
            guint       *cursor,
            GwEventType  type)
{
  gint64 end = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < end)
    {
      while (*cursor < log->events->len)
        {
          GwEvent *e = log->events->pdata[(*cursor)++];

          if (e->type == type)
            return e;
        }
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
  return NULL;
}

static void
test_engine_thread (void)
{
  g_autoptr(GwEngineConfig) config = gw_engine_config_new ();
  g_autoptr(GPtrArray) events = g_ptr_array_new_with_free_func ((GDestroyNotify) gw_event_unref);
  EngineLog log = { events, g_thread_self () };
  g_autoptr(GError) error = NULL;
  GwEngine *engine;
  GwCommand *cmd;
  GwEvent *e;
  guint cursor = 0;

  config->data_dir = g_dir_make_tmp ("gw-engine-XXXXXX", &error);
  g_assert_no_error (error);
  g_free (config->listen_address);
  config->listen_address = g_strdup ("127.0.0.1");
  config->listen_port = 0;
  config->discovery_port = 0;
  g_clear_pointer (&config->discovery_group, g_free);

  engine = gw_engine_new (config);
  g_assert_true (gw_engine_start (engine, on_engine_event, &log, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (gw_engine_get_listen_port (engine), !=, 0);
  g_assert_cmpuint (gw_engine_get_discovery_port (engine), !=, 0);

  /* The start-up snapshot. */
  e = wait_event (&log, &cursor, GW_EVENT_SESSION);
  g_assert_nonnull (e);
  g_assert_cmpint (e->session->state, ==, GW_SESSION_NOT_ENROLLED);
  e = wait_event (&log, &cursor, GW_EVENT_PAIRING_WINDOW);
  g_assert_false (e->pairing_window->open);

  cmd = gw_command_new (GW_COMMAND_OPEN_PAIRING_WINDOW);
  cmd->seconds = 30;
  gw_engine_send (engine, cmd);
  e = wait_event (&log, &cursor, GW_EVENT_PAIRING_WINDOW);
  g_assert_nonnull (e);
  g_assert_true (e->pairing_window->open);
  g_assert_cmpuint (e->pairing_window->remaining_s, ==, 30);

  /* A command that cannot be carried out is an error event. */
  cmd = gw_command_new (GW_COMMAND_RENAME);
  cmd->pne_id = g_strdup ("pne-0123456789abcdef0123456789abcdef");
  cmd->name = g_strdup ("Lamp");
  gw_engine_send (engine, cmd);
  e = wait_event (&log, &cursor, GW_EVENT_ERROR);
  g_assert_nonnull (e);
  g_assert_error (e->error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST);

  /* A broken invitation. */
  cmd = gw_command_new (GW_COMMAND_ENROLL);
  cmd->invitation = g_strdup ("cpns://enroll?server=nope");
  gw_engine_send (engine, cmd);
  e = wait_event (&log, &cursor, GW_EVENT_ENROLLMENT);
  g_assert_nonnull (e);
  g_assert_error (e->error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST);

  /* No Secret Service here (see main): enrollment is refused before
   * the code is spent, and nothing is written in the clear. */
  cmd = gw_command_new (GW_COMMAND_ENROLL);
  cmd->invitation = g_strdup ("cpns://enroll?server=https%3A%2F%2F127.0.0.1%3A9&user=alice"
                              "&code=ABCD-EFGH-IJKL-MNOP");
  gw_engine_send (engine, cmd);
  e = wait_event (&log, &cursor, GW_EVENT_ENROLLMENT);
  g_assert_nonnull (e);
  g_assert_error (e->error, CPNS_ERROR, CPNS_ERROR_NO_SECRET_SERVICE);

  gw_engine_stop (engine);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  e = wait_event (&log, &cursor, GW_EVENT_STOPPED);
  g_assert_nonnull (e);
  gw_engine_free (engine);
  g_free (config->data_dir);
  config->data_dir = NULL;
}

int
main (int   argc,
      char *argv[])
{
  /* No keyring reachable: the secret store must refuse, not fall back. */
  g_setenv ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/cpns-test-bus", TRUE);
  g_unsetenv ("SECRET_BACKEND");
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gateway/prompts/expiry", test_prompt_expiry);
  g_test_add_func ("/gateway/prompts/answers", test_prompt_answers);
  g_test_add_func ("/gateway/discovery/window-countdown", test_pairing_window_countdown);
  g_test_add_func ("/gateway/discovery/discovered-expiry", test_discovered_expiry);
  g_test_add_func ("/gateway/flow/timeline", test_flow_timeline);
  g_test_add_func ("/gateway/engine/thread", test_engine_thread);
  return g_test_run ();
}
