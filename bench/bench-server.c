/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * bench-server: requests/s and latency (p50, p99) of a real cpns-server on
 * loopback, for GET /healthz (the HTTP stack's own ceiling), a full PNE
 * authentication (POST /auth + POST /auth/{id}/verify, policy allow) and an
 * inventory update (PUT /inventory/{pne_id}, one durable transaction), with
 * 1, 8 and 64 concurrent clients (keep-alive HTTPS connections). Each
 * figure is also printed as a ratio to healthz at the same concurrency.
 * Not a test: it prints figures.
 */
#include "config.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "cpns-base64.h"
#include "cpns-crypto.h"
#include "cpns-ids.h"

typedef enum { OP_HEALTHZ, OP_AUTH, OP_INVENTORY, N_OPS } OpKind;
static const char *const op_names[] = { "healthz", "auth+verify", "inventory PUT" };

typedef struct
{
  char        *base_url;
  char        *pin;
  char        *token;
  char        *gateway_id;
  /* One registered PNE per client, so lockouts never interfere. */
  GPtrArray   *pne_ids;
  GArray      *euks;        /* guint8[32] each */
  SoupSession *session;
  GMainLoop   *loop;
} Bench;

typedef struct
{
  Bench   *bench;
  OpKind   kind;
  guint    client;
  gint64   started;
  gint64   deadline;
  gint64   measure_from;
  GArray  *latencies;      /* gint64 µs */
  guint   *running;
  guint    errors;
  guint8   nonce_p[16];
  gboolean flip;
} Client;

static double seconds = 3.0;
static char *only = NULL;
static guint n_handshakes = 0;
static char *server_path = NULL;

/* ------------------------------------------------------------------ */

static gboolean
accept_cb (SoupMessage          *msg,
           GTlsCertificate      *cert,
           GTlsCertificateFlags  errors,
           Bench                *bench)
{
  g_autoptr(GByteArray) der = NULL;
  g_autofree char *sha = NULL;

  g_object_get (cert, "certificate", &der, NULL);
  sha = cpns_sha256_hex (der->data, der->len);
  return strcmp (sha, bench->pin) == 0;
}

/* Requests with a body are written as two records (headers, body): turn
 * Nagle off so the body does not wait for the server's delayed ACK. */
static void
network_event_cb (SoupMessage        *msg,
                  GSocketClientEvent  event,
                  GIOStream          *connection,
                  gpointer            user_data)
{
  if (event == G_SOCKET_CLIENT_TLS_HANDSHAKED)
    n_handshakes++;
  if (event == G_SOCKET_CLIENT_CONNECTED && G_IS_SOCKET_CONNECTION (connection))
    g_socket_set_option (g_socket_connection_get_socket (G_SOCKET_CONNECTION (connection)),
                         IPPROTO_TCP, TCP_NODELAY, 1, NULL);
}

static SoupMessage *
make_message (Bench      *bench,
              const char *method,
              const char *path,
              const char *body)
{
  g_autofree char *url = g_strconcat (bench->base_url, path, NULL);
  SoupMessage *msg = soup_message_new (method, url);

  g_signal_connect (msg, "accept-certificate", G_CALLBACK (accept_cb), bench);
  g_signal_connect (msg, "network-event", G_CALLBACK (network_event_cb), NULL);
  /* SoupSession sends a POST on a fresh connection (a new TLS handshake)
   * unless told that it may reuse one; every CPNS-2 POST is safe to send
   * on a kept-alive connection (a lost one is retried from step 1). */
  soup_message_add_flags (msg, SOUP_MESSAGE_IDEMPOTENT);
  if (bench->token)
    {
      g_autofree char *auth = g_strconcat ("Bearer ", bench->token, NULL);
      soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", auth);
    }
  if (body)
    {
      g_autoptr(GBytes) bytes = g_bytes_new (body, strlen (body));
      soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
    }
  return msg;
}

static JsonObject *
request_sync (Bench      *bench,
              const char *method,
              const char *path,
              const char *body,
              guint       expected)
{
  g_autoptr(SoupMessage) msg = make_message (bench, method, path, body);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) answer = soup_session_send_and_read (bench->session, msg, NULL, &error);
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *text = NULL;

  if (answer == NULL)
    g_error ("%s %s: %s", method, path, error->message);
  text = g_strndup (g_bytes_get_data (answer, NULL), g_bytes_get_size (answer));
  if (soup_message_get_status (msg) != expected)
    g_error ("%s %s: HTTP %u %s", method, path, soup_message_get_status (msg), text);
  node = json_from_string (text, NULL);
  return node && JSON_NODE_HOLDS_OBJECT (node) ? json_object_ref (json_node_get_object (node)) : NULL;
}

static char *
run_cli (const char *data_dir,
         const char *first,
         ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;
  va_list args;
  int status;

  g_ptr_array_add (argv, server_path);
  va_start (args, first);
  for (const char *a = first; a; a = va_arg (args, const char *))
    g_ptr_array_add (argv, (char *) a);
  va_end (args);
  g_ptr_array_add (argv, "--data-dir");
  g_ptr_array_add (argv, (char *) data_dir);
  g_ptr_array_add (argv, NULL);
  if (!g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL, &status, &error) ||
      !g_spawn_check_wait_status (status, &error))
    g_error ("cpns-server %s: %s", first, error->message);
  return g_steal_pointer (&out);
}

static const char *
json_string (JsonObject *object,
             const char *member)
{
  return json_object_get_string_member (object, member);
}

static void
get_bytes (JsonObject *object,
           const char *member,
           guint8     *out,
           gsize       len)
{
  if (!cpns_base64url_decode_exact (json_string (object, member), out, len))
    g_error ("bad %s", member);
}

/* Enrollment, step 1, and one confirmed PNE per client. */
static void
setup (Bench      *bench,
       const char *data_dir,
       guint       n_pnes)
{
  g_autofree char *added = run_cli (data_dir, "user", "add", "bench", "--json", NULL);
  g_autoptr(JsonNode) added_node = json_from_string (added, NULL);
  g_autoptr(JsonObject) enrolled = NULL, challenge = NULL, session = NULL;
  g_autofree char *body = NULL;
  g_autofree char *nonce_text = NULL, *proof_text = NULL;
  guint8 secret[32], nonce_s[16], nonce_g[16], proof[32];

  g_free (run_cli (data_dir, "policy", "set", "bench", "--default", "allow", NULL));

  body = g_strdup_printf ("{\"user_id\":\"bench\",\"enrollment_code\":\"%s\",\"gateway_name\":\"bench\"}",
                          json_string (json_node_get_object (added_node), "enrollment_code"));
  enrolled = request_sync (bench, "POST", "/cpns/v1/gateways", body, 201);
  bench->gateway_id = g_strdup (json_string (enrolled, "gateway_id"));
  get_bytes (enrolled, "gateway_secret", secret, 32);

  g_free (body);
  body = g_strdup_printf ("{\"gateway_id\":\"%s\"}", bench->gateway_id);
  challenge = request_sync (bench, "POST", "/cpns/v1/session/challenge", body, 200);
  get_bytes (challenge, "nonce_s", nonce_s, 16);
  cpns_random_nonce (nonce_g, 16);
  cpns_gateway_session_proof (secret, bench->gateway_id, nonce_s, nonce_g, proof);
  nonce_text = cpns_base64url_encode (nonce_g, 16);
  proof_text = cpns_base64url_encode (proof, 32);
  g_free (body);
  body = g_strdup_printf ("{\"gateway_id\":\"%s\",\"challenge_id\":\"%s\",\"nonce_g\":\"%s\",\"proof\":\"%s\"}",
                          bench->gateway_id, json_string (challenge, "challenge_id"), nonce_text, proof_text);
  session = request_sync (bench, "POST", "/cpns/v1/session", body, 201);
  bench->token = g_strdup (json_string (session, "session_token"));
  cpns_wipe (secret, sizeof secret);

  bench->pne_ids = g_ptr_array_new_with_free_func (g_free);
  bench->euks = g_array_sized_new (FALSE, TRUE, 32, n_pnes);
  for (guint i = 0; i < n_pnes; i++)
    {
      g_autofree char *pne_id = cpns_id_new (CPNS_ID_PNE);
      g_autofree char *reg = g_strdup_printf ("{\"pne_id\":\"%s\",\"entity\":{\"name\":\"bench %u\","
                                              "\"entity_type\":\"sensor\"},\"key_assignment\":\"server\"}",
                                              pne_id, i);
      g_autoptr(JsonObject) answer = request_sync (bench, "POST", "/cpns/v1/entities", reg, 201);
      g_autofree char *path = g_strdup_printf ("/cpns/v1/entities/%s/key-confirm", pne_id);
      g_autofree char *mac_text = NULL, *confirm = NULL;
      g_autoptr(JsonObject) confirmed = NULL;
      guint8 euk[32], mac[32];

      get_bytes (answer, "euk", euk, 32);
      cpns_key_confirm (euk, pne_id, json_string (answer, "key_id"), mac);
      mac_text = cpns_base64url_encode (mac, 32);
      confirm = g_strdup_printf ("{\"key_id\":\"%s\",\"key_confirm\":\"%s\"}", json_string (answer, "key_id"),
                                 mac_text);
      confirmed = request_sync (bench, "POST", path, confirm, 200);
      g_ptr_array_add (bench->pne_ids, g_steal_pointer (&pne_id));
      g_array_append_vals (bench->euks, euk, 1);
    }
}

/* ------------------------------------------------------------------ */
/* The load loop: every client runs one operation after another. */

static void client_next (Client *client);

static gboolean
client_next_idle (gpointer user_data)
{
  client_next (user_data);
  return G_SOURCE_REMOVE;
}

typedef struct
{
  Client      *client;
  SoupMessage *msg;
} Pending;

static gboolean
send_verify_idle (gpointer user_data)
{
  Pending *pending = user_data;
  void verify_done_cb (GObject *, GAsyncResult *, gpointer);

  soup_session_send_and_read_async (pending->client->bench->session, pending->msg, G_PRIORITY_DEFAULT, NULL,
                                    verify_done_cb, pending->client);
  g_object_unref (pending->msg);
  g_free (pending);
  return G_SOURCE_REMOVE;
}

static void
client_finish_op (Client *client,
                  gboolean ok)
{
  gint64 now = g_get_monotonic_time ();

  if (!ok)
    client->errors++;
  else if (client->started >= client->measure_from)
    g_array_append_val (client->latencies, (gint64) { now - client->started });
  if (now >= client->deadline)
    {
      if (--(*client->running) == 0)
        g_main_loop_quit (client->bench->loop);
      return;
    }
  /* From an idle: the finished message gives its connection back to the
   * pool first, so the next request reuses it instead of opening another. */
  g_idle_add (client_next_idle, client);
}

void verify_done_cb (GObject *source, GAsyncResult *result, gpointer user_data);

void
verify_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Client *client = user_data;
  g_autoptr(GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, NULL);
  SoupMessage *msg = soup_session_get_async_result_message (SOUP_SESSION (source), result);

  client_finish_op (client, body != NULL && soup_message_get_status (msg) == 200);
}

static void
auth_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Client *client = user_data;
  Bench *bench = client->bench;
  g_autoptr(GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, NULL);
  SoupMessage *msg = soup_session_get_async_result_message (SOUP_SESSION (source), result);
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(SoupMessage) verify = NULL;
  g_autofree char *path = NULL, *proof_text = NULL, *json = NULL;
  const guint8 *euk = &g_array_index (bench->euks, guint8, client->client * 32);
  const char *pne_id = g_ptr_array_index (bench->pne_ids, client->client);
  guint8 nonce_s[16], proof[32];
  JsonObject *answer;

  if (body == NULL || soup_message_get_status (msg) != 200)
    return client_finish_op (client, FALSE);
  node = json_from_string (g_bytes_get_data (body, NULL), NULL);
  answer = json_node_get_object (node);
  get_bytes (answer, "nonce_s", nonce_s, 16);
  cpns_pne_auth_proof (euk, pne_id, bench->gateway_id, nonce_s, client->nonce_p, proof);
  proof_text = cpns_base64url_encode (proof, 32);
  json = g_strdup_printf ("{\"pne_proof\":\"%s\"}", proof_text);
  path = g_strdup_printf ("/cpns/v1/auth/%s/verify", json_string (answer, "auth_id"));
  verify = make_message (bench, "POST", path, json);
  {
    Pending *pending = g_new0 (Pending, 1);

    pending->client = client;
    pending->msg = g_steal_pointer (&verify);
    g_idle_add (send_verify_idle, pending);
  }
}

static void
simple_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Client *client = user_data;
  g_autoptr(GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, NULL);
  SoupMessage *msg = soup_session_get_async_result_message (SOUP_SESSION (source), result);

  client_finish_op (client, body != NULL && soup_message_get_status (msg) == 200);
}

static void
client_next (Client *client)
{
  Bench *bench = client->bench;
  g_autoptr(SoupMessage) msg = NULL;
  const char *pne_id = bench->pne_ids ? g_ptr_array_index (bench->pne_ids, client->client) : NULL;

  client->started = g_get_monotonic_time ();
  switch (client->kind)
    {
    case OP_HEALTHZ:
      msg = make_message (bench, "GET", "/healthz", NULL);
      soup_session_send_and_read_async (bench->session, msg, G_PRIORITY_DEFAULT, NULL, simple_done_cb, client);
      break;
    case OP_AUTH:
      {
        g_autofree char *nonce = NULL, *json = NULL;

        cpns_random_nonce (client->nonce_p, 16);
        nonce = cpns_base64url_encode (client->nonce_p, 16);
        json = g_strdup_printf ("{\"pne_id\":\"%s\",\"nonce_p\":\"%s\",\"requested_services\":[\"telemetry\"]}",
                                pne_id, nonce);
        msg = make_message (bench, "POST", "/cpns/v1/auth", json);
        soup_session_send_and_read_async (bench->session, msg, G_PRIORITY_DEFAULT, NULL, auth_done_cb, client);
      }
      break;
    case OP_INVENTORY:
      {
        g_autofree char *path = g_strdup_printf ("/cpns/v1/inventory/%s", pne_id);

        client->flip = !client->flip;
        msg = make_message (bench, "PUT", path,
                            client->flip ? "{\"state\":\"connected\",\"services\":[\"telemetry\"]}"
                                         : "{\"state\":\"disconnected\"}");
        soup_session_send_and_read_async (bench->session, msg, G_PRIORITY_DEFAULT, NULL, simple_done_cb, client);
      }
      break;
    case N_OPS:
    default:
      g_assert_not_reached ();
    }
}

static int
compare_i64 (gconstpointer a,
             gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

/* utime + stime of @pid, in µs. */
static gint64
process_cpu_us (const char *pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/stat", pid);
  g_autofree char *text = NULL;
  g_auto(GStrv) fields = NULL;
  const char *after;

  if (!g_file_get_contents (path, &text, NULL, NULL) || (after = strrchr (text, ')')) == NULL)
    return 0;
  fields = g_strsplit (after + 2, " ", -1);
  if (g_strv_length (fields) < 13)
    return 0;
  return (g_ascii_strtoll (fields[11], NULL, 10) + g_ascii_strtoll (fields[12], NULL, 10)) *
         G_USEC_PER_SEC / sysconf (_SC_CLK_TCK);
}

static const char *server_pid = NULL;

typedef struct
{
  double cpu_us;
  double rate;
  double p50_ms;
  double p99_ms;
  guint  errors;
} Result;

static Result
run_scenario (Bench  *bench,
              OpKind  kind,
              guint   n_clients)
{
  g_autoptr(GArray) all = g_array_new (FALSE, FALSE, sizeof (gint64));
  Client *clients = g_new0 (Client, n_clients);
  gint64 start = g_get_monotonic_time ();
  gint64 warmup = (gint64) (0.5 * G_USEC_PER_SEC);
  gint64 duration = (gint64) (seconds * G_USEC_PER_SEC);
  guint running = n_clients;
  Result result = { 0 };
  gint64 cpu_start = 0;
  guint measured = 0;

  for (guint i = 0; i < n_clients; i++)
    {
      clients[i].bench = bench;
      clients[i].kind = kind;
      clients[i].client = i;
      clients[i].measure_from = start + warmup;
      clients[i].deadline = start + warmup + duration;
      clients[i].latencies = g_array_new (FALSE, FALSE, sizeof (gint64));
      clients[i].running = &running;
      client_next (&clients[i]);
    }
  /* Server CPU over the measured part (approximately: from the end of the
   * warm-up to the end). */
  while (g_get_monotonic_time () < start + warmup)
    g_main_context_iteration (NULL, TRUE);
  cpu_start = process_cpu_us (server_pid);
  g_main_loop_run (bench->loop);
  result.cpu_us = process_cpu_us (server_pid) - cpu_start;

  for (guint i = 0; i < n_clients; i++)
    {
      g_array_append_vals (all, clients[i].latencies->data, clients[i].latencies->len);
      result.errors += clients[i].errors;
      g_array_unref (clients[i].latencies);
    }
  g_free (clients);
  g_array_sort (all, compare_i64);
  if (all->len > 0)
    {
      measured = all->len;
      result.rate = all->len / seconds;
      result.cpu_us /= measured;
      result.p50_ms = g_array_index (all, gint64, all->len / 2) / 1000.0;
      result.p99_ms = g_array_index (all, gint64, MIN (all->len - 1, all->len * 99 / 100)) / 1000.0;
    }
  return result;
}

/* ------------------------------------------------------------------ */

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *data_dir = NULL;
  g_autofree char *init = NULL;
  g_autoptr(JsonNode) init_node = NULL;
  g_autoptr(GSubprocess) server = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autofree char *line = NULL;
  const guint concurrency[] = { 1, 8, 64 };
  Bench bench = { 0 };
  GOptionEntry entries[] = {
    { "seconds", 's', 0, G_OPTION_ARG_DOUBLE, &seconds, "Measured seconds per figure (default 3)", "S" },
    { "server", 0, 0, G_OPTION_ARG_FILENAME, &server_path, "The cpns-server binary", "PATH" },
    { "only", 0, 0, G_OPTION_ARG_STRING, &only, "Only this operation (besides healthz)", "auth|inventory" },
    { NULL }
  };

  g_option_context_set_summary (context, "Requests/s and latency of cpns-server on loopback.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  if (seconds <= 0 || seconds > 60)
    seconds = 3;
  if (server_path == NULL)
    {
      g_autofree char *dir = g_path_get_dirname (argv[0]);
      server_path = g_build_filename (dir, "..", "src", "server", "cpns-server", NULL);
    }

  data_dir = g_dir_make_tmp ("cpns-bench-server-XXXXXX", &error);
  g_assert_no_error (error);
  init = run_cli (data_dir, "init", "--hostname", "127.0.0.1", "--force", "--json", NULL);
  init_node = json_from_string (init, NULL);
  bench.pin = g_strdup (json_object_get_string_member (json_node_get_object (init_node), "pin") + 7);

  server = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, server_path, "serve", "--data-dir", data_dir,
                             "--listen", "127.0.0.1:0", NULL);
  g_assert_no_error (error);
  server_pid = g_subprocess_get_identifier (server);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (server));
  line = g_data_input_stream_read_line (out, NULL, NULL, &error);
  if (line == NULL || strstr (line, "port=") == NULL)
    g_error ("cpns-server did not start");
  bench.base_url = g_strdup_printf ("https://127.0.0.1:%s", strstr (line, "port=") + 5);
  bench.session = soup_session_new_with_options ("max-conns", 256, "max-conns-per-host", 64,
                                                 "timeout", 30, NULL);
  bench.loop = g_main_loop_new (NULL, FALSE);
  setup (&bench, data_dir, 64);

  printf ("cpns-server on loopback, %.1f s per figure (after 0.5 s warm-up), keep-alive HTTPS\n", seconds);
  printf ("%-15s %7s %10s %9s %9s %12s %12s %10s %7s\n", "operation", "clients", "ops/s", "p50 ms", "p99 ms",
          "rate/healthz", "p50/healthz", "server µs", "errors");
  for (gsize c = 0; c < G_N_ELEMENTS (concurrency); c++)
    {
      Result base = run_scenario (&bench, OP_HEALTHZ, concurrency[c]);

      for (int op = 0; op < N_OPS; op++)
        {
          Result r;

          if (only && op != OP_HEALTHZ && !g_str_has_prefix (op_names[op], only))
            continue;
          r = op == OP_HEALTHZ ? base : run_scenario (&bench, op, concurrency[c]);

          printf ("%-15s %7u %10.0f %9.2f %9.2f %12.2f %12.2f %10.0f %7u\n", op_names[op], concurrency[c], r.rate,
                  r.p50_ms, r.p99_ms, base.rate > 0 ? r.rate / base.rate : 0,
                  base.p50_ms > 0 ? r.p50_ms / base.p50_ms : 0, r.cpu_us, r.errors);
          fflush (stdout);
        }
    }
  printf ("TLS handshakes by the clients (connections opened): %u\n", n_handshakes);
  printf ("Goal: a full authentication costs no more than 3x a healthz round trip (p50/healthz <= 3).\n");

  g_subprocess_send_signal (server, SIGTERM);
  g_subprocess_wait (server, NULL, NULL);
  {
    g_autoptr(GDir) dir = g_dir_open (data_dir, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name (dir)))
      {
        g_autofree char *path = g_build_filename (data_dir, name, NULL);
        g_remove (path);
      }
    g_rmdir (data_dir);
  }
  return 0;
}
