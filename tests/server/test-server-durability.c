/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Integration: write through the API while the server is killed with
 * SIGKILL; after a restart every acknowledged change is there and the
 * database passes PRAGMA integrity_check. */
#include "config.h"

#include <signal.h>
#include <string.h>

#include "cpns-ids.h"
#include "server-fixture.h"
#include "srv-datadir.h"
#include "srv-store.h"

#define N_WRITES 40
#define KILL_AFTER 15

typedef struct
{
  ServerFixture *fx;
  TestGateway   *gw;
  GMainLoop     *loop;
  char          *pne_ids[N_WRITES];
  gboolean       acked[N_WRITES];
  guint          n_acked;
  guint          n_done;
  gboolean       killed;
} State;

typedef struct
{
  State *state;
  guint  index;
} Write;

static void
register_done_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Write *write = user_data;
  State *state = write->state;
  g_autoptr(GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, NULL);
  SoupMessage *msg = soup_session_get_async_result_message (SOUP_SESSION (source), result);

  if (body != NULL && msg != NULL && soup_message_get_status (msg) == 201)
    {
      state->acked[write->index] = TRUE;
      state->n_acked++;
      if (state->n_acked == KILL_AFTER && !state->killed)
        {
          /* Kill while the other requests are in flight. */
          state->killed = TRUE;
          g_subprocess_send_signal (state->fx->process, SIGKILL);
        }
    }
  state->n_done++;
  if (state->n_done == N_WRITES)
    g_main_loop_quit (state->loop);
  g_free (write);
}

static void
test_kill_during_writes (void)
{
  State state = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) answer = NULL;
  g_autofree char *db_path = NULL;
  g_autofree char *check = NULL;
  g_autoptr(SrvStore) store = NULL;
  g_autoptr(GHashTable) present = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(SoupSession) session = soup_session_new_with_options ("max-conns-per-host", 8, "timeout", 20, NULL);
  TestPne *before;
  JsonArray *entities;

  state.fx = server_fixture_new (NULL);
  server_fixture_start (state.fx);
  state.gw = test_gateway_enroll (state.fx, "durable");
  test_gateway_open_session (state.fx, state.gw);
  before = test_pne_register (state.fx, state.gw, "sensor", TRUE);
  state.loop = g_main_loop_new (NULL, FALSE);

  for (guint i = 0; i < N_WRITES; i++)
    {
      g_autofree char *url = g_strconcat (state.fx->base_url, "/cpns/v1/entities", NULL);
      g_autofree char *auth = g_strconcat ("Bearer ", state.gw->token, NULL);
      g_autofree char *json = NULL;
      g_autoptr(SoupMessage) msg = soup_message_new ("POST", url);
      g_autoptr(GBytes) bytes = NULL;
      Write *write = g_new0 (Write, 1);

      state.pne_ids[i] = cpns_id_new (CPNS_ID_PNE);
      json = g_strdup_printf ("{\"pne_id\":\"%s\",\"entity\":{\"name\":\"n%u\",\"entity_type\":\"other\"},"
                              "\"key_assignment\":\"server\"}", state.pne_ids[i], i);
      bytes = g_bytes_new (json, strlen (json));
      soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
      soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", auth);
      server_fixture_pin_message (state.fx, msg);
      write->state = &state;
      write->index = i;
      soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, NULL, register_done_cb, write);
    }
  g_main_loop_run (state.loop);
  g_assert_true (state.killed);
  g_assert_cmpuint (state.n_acked, >=, KILL_AFTER);
  g_test_message ("%u of %u registrations acknowledged before SIGKILL", state.n_acked, N_WRITES);
  g_subprocess_wait (state.fx->process, NULL, NULL);
  g_clear_object (&state.fx->process);

  /* The database file itself. */
  db_path = srv_datadir_db_path (state.fx->data_dir);
  store = srv_store_open (db_path, &error);
  g_assert_no_error (error);
  check = srv_store_integrity_check (store);
  g_assert_cmpstr (check, ==, "ok");
  g_clear_pointer (&store, srv_store_free);

  /* Restart: the token (a durable session) still works, and every
   * acknowledged registration is there. */
  server_fixture_kill (state.fx);
  server_fixture_start (state.fx);
  g_assert_cmpuint (server_fixture_request (state.fx, "GET", "/cpns/v1/inventory", state.gw->token, NULL,
                                            &answer), ==, 200);
  entities = json_object_get_array_member (answer, "entities");
  for (guint i = 0; i < json_array_get_length (entities); i++)
    {
      JsonObject *e = json_array_get_object_element (entities, i);

      g_hash_table_add (present, (gpointer) json_object_get_string_member (e, "pne_id"));
    }
  g_assert_true (g_hash_table_contains (present, before->pne_id));
  for (guint i = 0; i < N_WRITES; i++)
    if (state.acked[i])
      g_assert_true (g_hash_table_contains (present, state.pne_ids[i]));

  /* The confirmed entity still authenticates after the restart. */
  {
    g_autoptr(JsonObject) auth = NULL;
    g_autofree char *body = g_strdup_printf ("{\"pne_id\":\"%s\",\"nonce_p\":\"AAAAAAAAAAAAAAAAAAAAAA\"}",
                                             before->pne_id);

    g_assert_cmpuint (server_fixture_request (state.fx, "POST", "/cpns/v1/auth", state.gw->token, body, &auth),
                      ==, 200);
  }

  for (guint i = 0; i < N_WRITES; i++)
    g_free (state.pne_ids[i]);
  test_pne_free (before);
  test_gateway_free (state.gw);
  g_main_loop_unref (state.loop);
  server_fixture_free (state.fx);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/server/durability/kill-during-writes", test_kill_during_writes);
  return g_test_run ();
}
