/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Events, commands and the pure helpers of the engine. */
#include "config.h"

#include <json-glib/json-glib.h>

#include "gw-command.h"
#include "gw-event-private.h"
#include "gw-event.h"
#include "gw-pinned-database.h"
#include "gw-server-session.h"

static JsonObject *
parse (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static void
test_event_refcount (void)
{
  GwEvent *event = gw_event_new (GW_EVENT_ERROR);

  g_assert_cmpint (event->type, ==, GW_EVENT_ERROR);
  g_assert_cmpint (event->time, >, 0);
  event->error = g_error_new_literal (CPNS_ERROR, CPNS_ERROR_DENIED, "no");
  g_assert_true (gw_event_ref (event) == event);
  gw_event_unref (event);
  g_assert_cmpint (event->error->code, ==, CPNS_ERROR_DENIED);   /* still alive */
  gw_event_unref (event);
  g_assert_true (G_TYPE_IS_BOXED (GW_TYPE_EVENT));
  g_assert_true (G_TYPE_IS_BOXED (GW_TYPE_COMMAND));
}

static void
test_names (void)
{
  const char *steps[] = { "1", "2", "3a", "3b-d", "3e", "4a", "4b", "4c", "4d-f", "4g", "5a", "5b" };

  for (guint i = 0; i < G_N_ELEMENTS (steps); i++)
    g_assert_cmpstr (gw_step_to_string (i), ==, steps[i]);
  g_assert_cmpint (G_N_ELEMENTS (steps), ==, GW_STEP_LAST);
  g_assert_cmpstr (gw_step_outcome_to_string (GW_STEP_SKIPPED), ==, "skipped");
  g_assert_cmpstr (gw_session_state_to_string (GW_SESSION_RETRYING), ==, "retrying");
  g_assert_cmpstr (gw_entity_state_to_string (GW_ENTITY_BLOCKED), ==, "blocked");
  g_assert_cmpstr (gw_event_type_to_string (GW_EVENT_FLOW_STEP), ==, "flow_step");
  g_assert_cmpstr (gw_event_type_to_string (GW_EVENT_STOPPED), ==, "stopped");
  g_assert_cmpstr (gw_step_to_string (99), ==, "unknown");
}

static void
test_step_json (void)
{
  g_autoptr(GwEvent) event = gw_event_new (GW_EVENT_FLOW_STEP);
  g_autofree char *text = NULL;
  g_autoptr(JsonObject) obj = NULL;
  JsonObject *step, *err;

  event->step = g_new0 (GwStepInfo, 1);
  event->step->flow_id = 7;
  event->step->flow_kind = GW_FLOW_CONNECTION;
  event->step->pne_id = g_strdup ("pne-0123456789abcdef0123456789abcdef");
  event->step->pne_name = g_strdup ("Lamp \"kitchen\"");
  event->step->step = GW_STEP_4DF;
  event->step->outcome = GW_STEP_FAILED;
  event->step->error = g_error_new_literal (CPNS_ERROR, CPNS_ERROR_DENIED, "Denied. Ask the owner.");
  text = gw_event_to_json (event);
  g_assert_null (strchr (text, '\n'));
  obj = parse (text);
  g_assert_cmpstr (json_object_get_string_member (obj, "type"), ==, "flow_step");
  step = json_object_get_object_member (obj, "step");
  g_assert_cmpint (json_object_get_int_member (step, "flow_id"), ==, 7);
  g_assert_cmpstr (json_object_get_string_member (step, "flow"), ==, "connection");
  g_assert_cmpstr (json_object_get_string_member (step, "step"), ==, "4d-f");
  g_assert_cmpstr (json_object_get_string_member (step, "outcome"), ==, "failed");
  g_assert_cmpstr (json_object_get_string_member (step, "pne_name"), ==, "Lamp \"kitchen\"");
  err = json_object_get_object_member (step, "error");
  g_assert_cmpstr (json_object_get_string_member (err, "code"), ==, "denied");
}

static void
test_prompt_json (void)
{
  g_autoptr(GwEvent) event = gw_event_new (GW_EVENT_PROMPT_WITHDRAWN);
  g_autofree char *text = NULL;
  g_autoptr(JsonObject) obj = NULL;
  JsonObject *prompt;

  event->prompt = g_new0 (GwPromptInfo, 1);
  event->prompt->id = 3;
  event->prompt->kind = GW_PROMPT_PAIRING_CODE;
  event->prompt->code = 42;
  event->withdraw_reason = GW_WITHDRAWN_EXPIRED;
  text = gw_event_to_json (event);
  obj = parse (text);
  prompt = json_object_get_object_member (obj, "prompt");
  g_assert_cmpstr (json_object_get_string_member (prompt, "code"), ==, "000042");
  g_assert_cmpstr (json_object_get_string_member (prompt, "kind"), ==, "pairing_code");
  g_assert_cmpstr (json_object_get_string_member (obj, "withdraw_reason"), ==, "expired");
}

static void
test_entity_copy (void)
{
  GwEntityInfo e = { 0 };
  const char *services[] = { "temperature (coap:5683)", NULL };
  g_autoptr(GwEntityInfo) copy = NULL;

  e.pne_id = (char *) "pne-0123456789abcdef0123456789abcdef";
  e.name = (char *) "Thermo";
  e.services = (char **) services;
  e.state = GW_ENTITY_CONNECTED;
  copy = gw_entity_info_copy (&e);
  g_assert_true (copy->name != e.name);
  g_assert_cmpstr (copy->name, ==, "Thermo");
  g_assert_cmpstr (copy->services[0], ==, services[0]);
  g_assert_null (copy->services[1]);
  g_assert_cmpint (copy->state, ==, GW_ENTITY_CONNECTED);
}

static void
test_session_json_has_no_secret (void)
{
  g_autoptr(GwEvent) event = gw_event_new (GW_EVENT_SESSION);
  g_autofree char *text = NULL;

  event->session = g_new0 (GwSessionInfo, 1);
  event->session->state = GW_SESSION_RETRYING;
  event->session->retry_in_s = 4;
  event->session->server_url = g_strdup ("https://example.org:7443");
  text = gw_event_to_json (event);
  g_assert_nonnull (strstr (text, "\"retry_in_s\":4"));
  g_assert_null (strstr (text, "token"));
  g_assert_null (strstr (text, "secret"));
}

static void
test_command (void)
{
  GwCommand *cmd = gw_command_new (GW_COMMAND_ENROLL);

  cmd->invitation = g_strdup ("cpns://enroll?server=x&user=y&code=AAAA-AAAA-AAAA-AAAA");
  cmd->code = g_strdup ("AAAA-AAAA-AAAA-AAAA");
  g_assert_true (gw_command_ref (cmd) == cmd);
  gw_command_unref (cmd);
  g_assert_nonnull (cmd->invitation);
  gw_command_unref (cmd);
}

static void
test_backoff (void)
{
  guint last_cap = 0;

  /* First retry after 0.5–1 s, doubling, never over 5 min. */
  g_assert_cmpuint (gw_backoff_delay_ms (1, 0.0), ==, 500);
  g_assert_cmpuint (gw_backoff_delay_ms (1, 0.999), <=, 1000);
  g_assert_cmpuint (gw_backoff_delay_ms (2, 0.0), ==, 1000);
  g_assert_cmpuint (gw_backoff_delay_ms (3, 0.0), ==, 2000);
  for (guint attempt = 1; attempt < 40; attempt++)
    {
      guint hi = gw_backoff_delay_ms (attempt, 0.9999);
      guint lo = gw_backoff_delay_ms (attempt, 0.0);

      g_assert_cmpuint (hi, <=, 300000);
      g_assert_cmpuint (lo, >=, hi / 2 - 1);
      g_assert_cmpuint (hi, >=, last_cap);
      last_cap = hi;
    }
  g_assert_cmpuint (gw_backoff_delay_ms (40, 0.0), ==, 150000);
  /* Jitter spreads a crowd of gateways. */
  g_assert_cmpuint (gw_backoff_delay_ms (5, 0.1), !=, gw_backoff_delay_ms (5, 0.7));
}

/* The failure class of a refused server certificate: the pin check
 * first, then the dates, the host, the CA; GLib's flags completed from
 * the certificate's own dates. */
static void
test_tls_failure_classify (void)
{
  const struct {
    GTlsCertificateFlags flags;
    gboolean             pinned;
    GwTlsFailureClass    expected;
  } cases[] = {
    { G_TLS_CERTIFICATE_UNKNOWN_CA, FALSE, GW_TLS_FAILURE_UNKNOWN_CA },
    { G_TLS_CERTIFICATE_UNKNOWN_CA, TRUE, GW_TLS_FAILURE_PIN_MISMATCH },
    { G_TLS_CERTIFICATE_UNKNOWN_CA | G_TLS_CERTIFICATE_EXPIRED, TRUE, GW_TLS_FAILURE_PIN_MISMATCH },
    { G_TLS_CERTIFICATE_EXPIRED, TRUE, GW_TLS_FAILURE_EXPIRED },
    { G_TLS_CERTIFICATE_NOT_ACTIVATED, TRUE, GW_TLS_FAILURE_NOT_YET_VALID },
    { G_TLS_CERTIFICATE_UNKNOWN_CA | G_TLS_CERTIFICATE_EXPIRED, FALSE, GW_TLS_FAILURE_EXPIRED },
    { G_TLS_CERTIFICATE_UNKNOWN_CA | G_TLS_CERTIFICATE_NOT_ACTIVATED, FALSE, GW_TLS_FAILURE_NOT_YET_VALID },
    { G_TLS_CERTIFICATE_UNKNOWN_CA | G_TLS_CERTIFICATE_BAD_IDENTITY, FALSE, GW_TLS_FAILURE_WRONG_HOST },
    { G_TLS_CERTIFICATE_REVOKED, FALSE, GW_TLS_FAILURE_HANDSHAKE },
    { G_TLS_CERTIFICATE_INSECURE, TRUE, GW_TLS_FAILURE_HANDSHAKE },
    { 0, FALSE, GW_TLS_FAILURE_HANDSHAKE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    g_assert_cmpint (gw_tls_failure_classify (cases[i].flags, NULL, cases[i].pinned), ==, cases[i].expected);
  g_assert_cmpstr (gw_tls_failure_to_string (GW_TLS_FAILURE_NOT_YET_VALID), ==, "not_yet_valid");
  g_assert_cmpstr (gw_tls_failure_to_string (GW_TLS_FAILURE_UNKNOWN_CA), ==, "unknown_ca");
  g_assert_null (gw_tls_failure_to_string (GW_TLS_FAILURE_NONE));
}

static void
test_tls_failure_describe (void)
{
  g_autofree char *expired = gw_tls_failure_describe (GW_TLS_FAILURE_EXPIRED, 0,
                                                      G_GINT64_CONSTANT (1772496000), NULL);
  g_autofree char *expired_undated = gw_tls_failure_describe (GW_TLS_FAILURE_EXPIRED, 0, 0, NULL);
  g_autofree char *handshake = gw_tls_failure_describe (GW_TLS_FAILURE_HANDSHAKE, 0, 0, "bad record");

  g_assert_cmpstr (expired, ==, "The server's certificate expired on 2026-03-03");
  g_assert_cmpstr (expired_undated, ==, "The server's certificate has expired");
  g_assert_cmpstr (handshake, ==, "The secure connection to the server failed (bad record)");
}

/* --events json: the class (and the certificate's dates) go with a
 * tls_failed / pin_mismatch error, in the event's error and in the
 * session's last_error; never with another code. */
static void
test_tls_failure_json (void)
{
  g_autoptr(GwEvent) event = gw_event_new (GW_EVENT_ENROLLMENT);
  g_autoptr(GwEvent) other = gw_event_new (GW_EVENT_ENROLLMENT);
  g_autoptr(JsonObject) root = NULL;
  g_autoptr(JsonObject) other_root = NULL;
  g_autofree char *json = NULL;
  g_autofree char *other_json = NULL;
  JsonObject *error, *last_error;

  event->session = g_new0 (GwSessionInfo, 1);
  event->session->state = GW_SESSION_RETRYING;
  event->session->tls_failure = GW_TLS_FAILURE_EXPIRED;
  event->session->cert_not_after = G_GINT64_CONSTANT (1772496000);
  event->session->last_error = g_error_new_literal (CPNS_ERROR, CPNS_ERROR_TLS_FAILED, "expired");
  event->error = g_error_new_literal (CPNS_ERROR, CPNS_ERROR_TLS_FAILED, "expired");
  json = gw_event_to_json (event);
  root = parse (json);
  error = json_object_get_object_member (root, "error");
  g_assert_cmpstr (json_object_get_string_member (error, "code"), ==, "tls_failed");
  g_assert_cmpstr (json_object_get_string_member (error, "class"), ==, "expired");
  g_assert_cmpint (json_object_get_int_member (error, "cert_not_after"), ==, G_GINT64_CONSTANT (1772496000));
  g_assert_false (json_object_has_member (error, "cert_not_before"));
  last_error = json_object_get_object_member (json_object_get_object_member (root, "session"), "last_error");
  g_assert_cmpstr (json_object_get_string_member (last_error, "class"), ==, "expired");

  other->session = g_new0 (GwSessionInfo, 1);
  other->session->tls_failure = GW_TLS_FAILURE_EXPIRED;   /* stale: not about this error */
  other->error = g_error_new_literal (CPNS_ERROR, CPNS_ERROR_UNAUTHORIZED, "wrong code");
  other_json = gw_event_to_json (other);
  other_root = parse (other_json);
  g_assert_false (json_object_has_member (json_object_get_object_member (other_root, "error"), "class"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gateway/event/refcount", test_event_refcount);
  g_test_add_func ("/gateway/event/names", test_names);
  g_test_add_func ("/gateway/event/step-json", test_step_json);
  g_test_add_func ("/gateway/event/prompt-json", test_prompt_json);
  g_test_add_func ("/gateway/event/entity-copy", test_entity_copy);
  g_test_add_func ("/gateway/event/session-json", test_session_json_has_no_secret);
  g_test_add_func ("/gateway/command/refcount", test_command);
  g_test_add_func ("/gateway/session/backoff", test_backoff);
  g_test_add_func ("/gateway/tls-failure/classify", test_tls_failure_classify);
  g_test_add_func ("/gateway/tls-failure/describe", test_tls_failure_describe);
  g_test_add_func ("/gateway/tls-failure/json", test_tls_failure_json);
  return g_test_run ();
}
