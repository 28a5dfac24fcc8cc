/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "gw-test-fixture.h"


void
fixture_start (Fixture            *fx,
               const char * const *extra)
{
  g_autofree char *invitation = NULL;
  g_autofree char *srv_dir = NULL;
  g_autofree char *gw_dir = NULL;
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  JsonObject *e;

  fx->dir = t_tmpdir ();
  srv_dir = g_build_filename (fx->dir, "server", NULL);
  gw_dir = g_build_filename (fx->dir, "gateway", NULL);
  fx->pne_dir = g_build_filename (fx->dir, "pne", NULL);
  fx->server = t_server_start (srv_dir, 0);
  invitation = t_server_invite (fx->server, "alice");
  g_ptr_array_add (args, (gpointer) "--enroll");
  g_ptr_array_add (args, invitation);
  g_ptr_array_add (args, (gpointer) "--pairing-window");
  g_ptr_array_add (args, (gpointer) "900");
  for (guint i = 0; extra && extra[i]; i++)
    g_ptr_array_add (args, (gpointer) extra[i]);
  g_ptr_array_add (args, NULL);
  fx->gw = t_gateway_start (gw_dir, (const char * const *) args->pdata);
  e = t_gateway_wait_type (fx->gw, "enrollment", 20000);
  g_assert_nonnull (e);
  g_assert_false (json_object_has_member (e, "error"));
  fx->address = g_strdup_printf ("127.0.0.1:%u", fx->gw->port);
}

void
fixture_stop (Fixture *fx)
{
  /* A clean stop: prompts withdrawn, sockets closed, exit 0 (and no leak
   * report in the sanitizer build). */
  if (g_subprocess_get_identifier (fx->gw->proc) != NULL)
    {
      g_assert_cmpint (t_gateway_stop (fx->gw), ==, 0);
      g_assert_nonnull (t_gateway_wait_type (fx->gw, "stopped", 5000));
    }
  g_clear_pointer (&fx->gw, t_gateway_free);
  t_server_stop (fx->server);
  g_clear_pointer (&fx->server, t_server_free);
  g_free (fx->address);
  g_free (fx->pne_dir);
  g_free (fx->dir);
}

int
pne_pair (Fixture    *fx,
          const char *state_dir)
{
  return t_pne_run (PNE_TIMEOUT_MS, "pair", "--gateway", fx->address, "--name", "Thermometer",
                    "--type", "sensor", "--service", "temperature:coap:5683", "--yes",
                    "--state-dir", state_dir, NULL);
}

/* The flow_step events as "step:outcome" strings, in order. */
char *
step_trace (TGateway   *gw,
            const char *flow)
{
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint i = 0; i < gw->events->len; i++)
    {
      JsonObject *e = g_ptr_array_index (gw->events, i);
      JsonObject *s;

      if (g_strcmp0 (json_object_get_string_member_with_default (e, "type", NULL), "flow_step") != 0)
        continue;
      s = json_object_get_object_member (e, "step");
      if (flow && g_strcmp0 (json_object_get_string_member (s, "flow"), flow) != 0)
        continue;
      g_string_append_printf (out, "%s%s:%s", out->len ? " " : "",
                              json_object_get_string_member (s, "step"),
                              json_object_get_string_member (s, "outcome"));
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

gboolean
wait_server_state (TServer    *server,
                   const char *pne_id,
                   const char *state,
                   guint       timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (g_get_monotonic_time () < end)
    {
      g_autofree char *now = t_server_entity_state (server, pne_id);

      if (g_strcmp0 (now, state) == 0)
        return TRUE;
      t_sleep (50);
    }
  return FALSE;
}

