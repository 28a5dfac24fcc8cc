/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Step 4d–f: the server's policy and the person's approval. */
#include "config.h"

#include "gw-test-fixture.h"

static const char *
step_detail (JsonObject *event)
{
  return json_object_get_string_member_with_default (json_object_get_object_member (event, "step"),
                                                     "detail", "");
}

static const char *
step_error_code (JsonObject *event)
{
  JsonObject *s = json_object_get_object_member (event, "step");

  if (!json_object_has_member (s, "error"))
    return NULL;
  return json_object_get_string_member (json_object_get_object_member (s, "error"), "code");
}

static void
paired_fixture (Fixture            *fx,
                const char * const *extra)
{
  fixture_start (fx, extra);
  g_assert_cmpint (pne_pair (fx, fx->pne_dir), ==, 0);
  g_assert_nonnull (t_gateway_wait_step (fx->gw, "3e", "done", 5000));
}

static int
connect_once (Fixture *fx)
{
  /* Without a session to resume: a full connection setup (steps 4–5). */
  t_pne_forget_session (fx->pne_dir);
  return t_pne_run (PNE_TIMEOUT_MS, "connect", "--once", "--state-dir", fx->pne_dir, NULL);
}

static void
test_policy_allow (void)
{
  Fixture fx = { 0 };
  const char *extra[] = { "--confirm-pairing", "always", NULL };
  JsonObject *e;

  paired_fixture (&fx, extra);
  g_assert_cmpint (t_server_cli (fx.server, "policy", "set", "alice", "--default", "allow", NULL), ==, 0);
  g_assert_cmpint (connect_once (&fx), ==, 0);
  e = t_gateway_wait_step (fx.gw, "4d-f", "done", 5000);
  g_assert_nonnull (e);
  g_assert_nonnull (strstr (step_detail (e), "policy"));
  g_assert_nonnull (t_gateway_wait_step (fx.gw, "5b", "done", 5000));
  /* No person was asked (the prompt of the pairing code came earlier). */
  for (guint i = 0; i < fx.gw->events->len; i++)
    {
      JsonObject *ev = g_ptr_array_index (fx.gw->events, i);

      if (g_str_equal (json_object_get_string_member (ev, "type"), "prompt_raised"))
        g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (ev, "prompt"), "kind"),
                         ==, "pairing_code");
    }
  fixture_stop (&fx);
}

static void
test_policy_deny (void)
{
  Fixture fx = { 0 };
  const char *extra[] = { "--confirm-pairing", "always", NULL };
  JsonObject *e;

  paired_fixture (&fx, extra);
  g_assert_cmpint (t_server_cli (fx.server, "policy", "set", "alice", "--default", "deny", NULL), ==, 0);
  g_assert_cmpint (connect_once (&fx), ==, 4);   /* denied */
  e = t_gateway_wait_step (fx.gw, "4d-f", "failed", 5000);
  g_assert_nonnull (e);
  g_assert_cmpstr (step_error_code (e), ==, "denied");
  fixture_stop (&fx);
}

/* ask → a prompt; "once" allows this time only, "deny" refuses. */
static void
test_ask_once_then_deny (void)
{
  Fixture fx = { 0 };
  const char *extra[] = { "--confirm-pairing", "always", "--approve", "ask", NULL };
  g_autoptr(TPne) first = NULL;
  g_autoptr(TPne) second = NULL;
  JsonObject *e;

  paired_fixture (&fx, extra);
  first = t_pne_spawn ("connect", "--once", "--state-dir", fx.pne_dir, NULL);
  e = t_gateway_wait_type (fx.gw, "prompt_raised", PNE_TIMEOUT_MS);
  g_assert_nonnull (e);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (e, "prompt"), "kind"),
                   ==, "approval");
  g_assert_true (json_object_get_boolean_member (json_object_get_object_member (e, "prompt"), "first_time"));
  t_gateway_send (fx.gw, "once");
  g_assert_cmpint (t_pne_wait (first, PNE_TIMEOUT_MS), ==, 0);
  e = t_gateway_wait_step (fx.gw, "4d-f", "done", 5000);
  g_assert_nonnull (e);
  g_assert_nonnull (strstr (step_detail (e), "once"));

  /* Once means once: the next connection asks again. */
  t_pne_forget_session (fx.pne_dir);
  second = t_pne_spawn ("connect", "--once", "--state-dir", fx.pne_dir, NULL);
  e = t_gateway_wait_type (fx.gw, "prompt_raised", PNE_TIMEOUT_MS);
  g_assert_nonnull (e);
  g_assert_false (json_object_get_boolean_member (json_object_get_object_member (e, "prompt"), "first_time"));
  t_gateway_send (fx.gw, "deny");
  g_assert_cmpint (t_pne_wait (second, PNE_TIMEOUT_MS), ==, 4);
  e = t_gateway_wait_step (fx.gw, "4d-f", "failed", 5000);
  g_assert_nonnull (e);
  g_assert_cmpstr (step_error_code (e), ==, "denied");
  fixture_stop (&fx);
}

/* "always" adds a rule: the next connection is not asked about. */
static void
test_ask_always (void)
{
  Fixture fx = { 0 };
  const char *extra[] = { "--confirm-pairing", "always", "--approve", "ask", NULL };
  g_autoptr(TPne) first = NULL;
  JsonObject *e;
  guint prompts = 0;

  paired_fixture (&fx, extra);
  first = t_pne_spawn ("connect", "--once", "--state-dir", fx.pne_dir, NULL);
  g_assert_nonnull (t_gateway_wait_step (fx.gw, "4d-f", "running", PNE_TIMEOUT_MS));
  e = t_gateway_wait_type (fx.gw, "prompt_raised", 5000);
  g_assert_nonnull (e);
  t_gateway_send (fx.gw, "always");
  g_assert_cmpint (t_pne_wait (first, PNE_TIMEOUT_MS), ==, 0);
  e = t_gateway_wait_step (fx.gw, "4d-f", "done", 5000);
  g_assert_nonnull (strstr (step_detail (e), "always"));

  g_assert_cmpint (connect_once (&fx), ==, 0);
  e = t_gateway_wait_step (fx.gw, "4d-f", "done", 5000);
  g_assert_nonnull (e);
  g_assert_nonnull (strstr (step_detail (e), "rule"));
  for (guint i = 0; i < fx.gw->events->len; i++)
    if (g_str_equal (json_object_get_string_member (g_ptr_array_index (fx.gw->events, i), "type"),
                     "prompt_raised"))
      prompts++;
  g_assert_cmpuint (prompts, ==, 2);   /* the pairing code and the first approval */
  fixture_stop (&fx);
}

/* Nobody answers: the prompt expires (an event) and that is a deny. */
static void
test_approval_timeout_denies (void)
{
  Fixture fx = { 0 };
  const char *extra[] = { "--confirm-pairing", "always", "--approve", "ask",
                          "--approval-timeout", "2", NULL };
  JsonObject *e;
  gint64 start;

  paired_fixture (&fx, extra);
  start = g_get_monotonic_time ();
  g_assert_cmpint (connect_once (&fx), ==, 4);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 2 * G_USEC_PER_SEC - 100000);
  e = t_gateway_wait_type (fx.gw, "prompt_withdrawn", 5000);
  g_assert_nonnull (e);
  g_assert_cmpstr (json_object_get_string_member (e, "withdraw_reason"), ==, "expired");
  e = t_gateway_wait_step (fx.gw, "4d-f", "failed", 5000);
  g_assert_nonnull (e);
  g_assert_cmpstr (step_error_code (e), ==, "denied");
  fixture_stop (&fx);
}

/* The gateway stops while a prompt is open: it is withdrawn (cancelled). */
static void
test_stop_withdraws_prompts (void)
{
  Fixture fx = { 0 };
  const char *extra[] = { "--confirm-pairing", "ask", NULL };
  g_autoptr(TPne) pne = NULL;
  JsonObject *e;

  fixture_start (&fx, extra);
  pne = t_pne_spawn ("pair", "--gateway", fx.address, "--name", "Lamp", "--type", "actuator",
                     "--yes", "--state-dir", fx.pne_dir, NULL);
  g_assert_nonnull (t_gateway_wait_type (fx.gw, "prompt_raised", PNE_TIMEOUT_MS));
  g_assert_cmpint (t_gateway_stop (fx.gw), ==, 0);
  e = t_gateway_wait_type (fx.gw, "prompt_withdrawn", 2000);
  g_assert_nonnull (e);
  g_assert_cmpstr (json_object_get_string_member (e, "withdraw_reason"), ==, "cancelled");
  g_assert_nonnull (t_gateway_wait_type (fx.gw, "stopped", 2000));
  g_assert_cmpint (t_pne_wait (pne, PNE_TIMEOUT_MS), !=, 0);
  fixture_stop (&fx);
}

/* The device leaves while the person is asked: the question is withdrawn. */
static void
test_peer_left_withdraws_prompt (void)
{
  Fixture fx = { 0 };
  const char *extra[] = { "--confirm-pairing", "always", "--approve", "ask", NULL };
  g_autoptr(TPne) pne = NULL;
  JsonObject *e;

  paired_fixture (&fx, extra);
  t_pne_forget_session (fx.pne_dir);
  pne = t_pne_spawn ("connect", "--once", "--state-dir", fx.pne_dir, NULL);
  e = t_gateway_wait_type (fx.gw, "prompt_raised", PNE_TIMEOUT_MS);
  g_assert_nonnull (e);
  g_subprocess_force_exit (pne->proc);
  t_pne_wait (pne, 5000);
  e = t_gateway_wait_type (fx.gw, "prompt_withdrawn", 5000);
  g_assert_nonnull (e);
  g_assert_cmpstr (json_object_get_string_member (e, "withdraw_reason"), ==, "peer_left");
  g_assert_nonnull (t_gateway_wait_step (fx.gw, "4d-f", "failed", 5000));
  fixture_stop (&fx);
}

/* Block (local) and remove (server + local) commands. */
static void
test_block_and_remove (void)
{
  Fixture fx = { 0 };
  const char *extra[] = { "--confirm-pairing", "always", "--approve", "always", NULL };
  g_autofree char *pne_id = NULL;
  g_autofree char *line = NULL;
  JsonObject *e;

  paired_fixture (&fx, extra);
  pne_id = t_pne_credential (fx.pne_dir, "pne_id");
  line = g_strdup_printf ("block %s", pne_id);
  t_gateway_send (fx.gw, line);
  e = t_gateway_wait_type (fx.gw, "entity_changed", 5000);
  while (e && !json_object_get_boolean_member (json_object_get_object_member (e, "entity"), "blocked"))
    e = t_gateway_wait_type (fx.gw, "entity_changed", 5000);
  g_assert_nonnull (e);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (e, "entity"), "state"),
                   ==, "blocked");
  g_assert_cmpint (connect_once (&fx), ==, 4);   /* denied */

  g_free (line);
  line = g_strdup_printf ("unblock %s", pne_id);
  t_gateway_send (fx.gw, line);
  t_sleep (200);
  g_assert_cmpint (connect_once (&fx), ==, 0);

  g_free (line);
  line = g_strdup_printf ("remove %s", pne_id);
  t_gateway_send (fx.gw, line);
  e = t_gateway_wait_type (fx.gw, "entity_removed", 10000);
  g_assert_nonnull (e);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (e, "entity"), "pne_id"),
                   ==, pne_id);
  /* The server keeps a removed entity as revoked (its key is gone). */
  g_assert_true (wait_server_state (fx.server, pne_id, "revoked", 5000));
  fixture_stop (&fx);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gateway/policy/allow", test_policy_allow);
  g_test_add_func ("/gateway/policy/deny", test_policy_deny);
  g_test_add_func ("/gateway/policy/ask-once-then-deny", test_ask_once_then_deny);
  g_test_add_func ("/gateway/policy/ask-always", test_ask_always);
  g_test_add_func ("/gateway/policy/approval-timeout", test_approval_timeout_denies);
  g_test_add_func ("/gateway/prompts/withdrawn-on-stop", test_stop_withdraws_prompts);
  g_test_add_func ("/gateway/prompts/withdrawn-peer-left", test_peer_left_withdraws_prompt);
  g_test_add_func ("/gateway/commands/block-and-remove", test_block_and_remove);
  return g_test_run ();
}
