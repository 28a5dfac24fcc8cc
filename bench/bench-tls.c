/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * bench-tls: bare CPNS-1 TLS handshakes on loopback, both ends in this
 * process on one GMainContext (as the gateway engine runs them).
 *
 *   bench-tls [--runs N] [--mode cert|psk|both]
 *
 * For each mode it runs N sequential handshakes (TCP connect + server and
 * client CpnsTlsChannel handshakes, no frames) and prints handshakes per
 * second and the p50/p99 latency of one handshake (from starting both
 * handshakes until both have completed).
 */
#define G_LOG_DOMAIN "bench-tls"

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>

#include "cpns-crypto.h"
#include "cpns-tls.h"

#define PSK_IDENTITY "sess-0123456789abcdef0123456789abcdef"

static guint8 psk_key[CPNS_KEY_LEN];

typedef struct
{
  gboolean done;
  GError  *error;
} Result;

static gboolean
lookup_psk (const char *identity,
            guint8      key[CPNS_KEY_LEN],
            gpointer    user_data)
{
  if (strcmp (identity, PSK_IDENTITY) != 0)
    return FALSE;
  memcpy (key, psk_key, CPNS_KEY_LEN);
  return TRUE;
}

static void
on_handshake (GObject      *source,
              GAsyncResult *res,
              gpointer      user_data)
{
  Result *r = user_data;

  cpns_tls_channel_handshake_finish (CPNS_TLS_CHANNEL (source), res, &r->error);
  r->done = TRUE;
}

static int
compare_doubles (const void *a,
                 const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

static double
percentile (double *sorted,
            guint   n,
            double  p)
{
  guint i = (guint) (p * (n - 1) + 0.5);

  return sorted[MIN (i, n - 1)];
}

static gboolean
run_mode (GSocketListener *listener,
          GSocketAddress  *address,
          CpnsCertificate *cert,
          gboolean         psk,
          guint            runs)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autofree double *latency_ms = g_new0 (double, runs);
  gint64 start_all = g_get_monotonic_time ();
  double total_s;

  for (guint i = 0; i < runs; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GSocketConnection) client_conn = NULL;
      g_autoptr(GSocketConnection) server_conn = NULL;
      g_autoptr(CpnsTlsChannel) server = NULL;
      g_autoptr(CpnsTlsChannel) tls_client = NULL;
      Result server_result = { 0 }, client_result = { 0 };
      gint64 start;

      client_conn = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address), NULL, &error);
      if (client_conn != NULL)
        server_conn = g_socket_listener_accept (listener, NULL, NULL, &error);
      if (server_conn == NULL)
        {
          g_printerr ("bench-tls: connect: %s\n", error->message);
          return FALSE;
        }

      start = g_get_monotonic_time ();
      server = cpns_tls_channel_new_server (G_IO_STREAM (server_conn), cert,
                                            lookup_psk, NULL, NULL);
      if (psk)
        tls_client = cpns_tls_channel_new_client_psk (G_IO_STREAM (client_conn),
                                                      PSK_IDENTITY, psk_key);
      else
        tls_client = cpns_tls_channel_new_client (G_IO_STREAM (client_conn),
                                                  cpns_certificate_get_sha256 (cert));
      cpns_tls_channel_handshake_async (server, 10000, NULL, on_handshake, &server_result);
      cpns_tls_channel_handshake_async (tls_client, 10000, NULL, on_handshake, &client_result);
      while (!server_result.done || !client_result.done)
        g_main_context_iteration (NULL, TRUE);
      latency_ms[i] = (g_get_monotonic_time () - start) / 1000.0;

      if (server_result.error != NULL || client_result.error != NULL)
        {
          g_printerr ("bench-tls: handshake failed: %s\n",
                      (server_result.error ? server_result.error : client_result.error)->message);
          g_clear_error (&server_result.error);
          g_clear_error (&client_result.error);
          return FALSE;
        }
      if (cpns_tls_channel_is_psk (server) != psk)
        {
          g_printerr ("bench-tls: unexpected handshake mode\n");
          return FALSE;
        }
    }

  total_s = (g_get_monotonic_time () - start_all) / 1e6;
  qsort (latency_ms, runs, sizeof (double), compare_doubles);
  g_print ("%-11s %5u runs  %8.1f handshakes/s  p50 %6.2f ms  p99 %6.2f ms\n",
           psk ? "psk" : "certificate", runs, runs / total_s,
           percentile (latency_ms, runs, 0.50), percentile (latency_ms, runs, 0.99));
  return TRUE;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsCertificate) cert = NULL;
  g_autoptr(GSocketListener) listener = NULL;
  g_autoptr(GInetAddress) loopback = NULL;
  g_autoptr(GSocketAddress) any_port = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autofree char *mode = NULL;
  int runs = 500;
  gboolean ok = TRUE;
  GOptionEntry entries[] = {
    { "runs", 'n', 0, G_OPTION_ARG_INT, &runs, "Handshakes per mode (default 500)", "N" },
    { "mode", 'm', 0, G_OPTION_ARG_STRING, &mode, "cert, psk or both (default both)", "MODE" },
    { NULL }
  };

  context = g_option_context_new ("- measure CPNS-1 TLS handshakes on loopback");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("bench-tls: %s\n", error->message);
      return 2;
    }
  if (runs < 1 || runs > 1000000 ||
      (mode != NULL && g_strcmp0 (mode, "cert") != 0 && g_strcmp0 (mode, "psk") != 0 &&
       g_strcmp0 (mode, "both") != 0))
    {
      g_printerr ("bench-tls: bad --runs or --mode\n");
      return 2;
    }

  cpns_random_key (psk_key, sizeof psk_key);
  cert = cpns_certificate_generate ("bench", 1, &error);
  if (cert == NULL)
    {
      g_printerr ("bench-tls: %s\n", error->message);
      return 1;
    }

  listener = g_socket_listener_new ();
  g_socket_listener_set_backlog (listener, 64);
  loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  any_port = g_inet_socket_address_new (loopback, 0);
  if (!g_socket_listener_add_address (listener, any_port, G_SOCKET_TYPE_STREAM,
                                      G_SOCKET_PROTOCOL_TCP, NULL, &address, &error))
    {
      g_printerr ("bench-tls: listen: %s\n", error->message);
      return 1;
    }

  g_print ("CPNS-1 TLS handshakes on loopback (TLS 1.3, one process, one main context)\n");
  if (mode == NULL || g_strcmp0 (mode, "cert") == 0 || g_strcmp0 (mode, "both") == 0)
    ok = ok && run_mode (listener, address, cert, FALSE, (guint) runs);
  if (mode == NULL || g_strcmp0 (mode, "psk") == 0 || g_strcmp0 (mode, "both") == 0)
    ok = ok && run_mode (listener, address, cert, TRUE, (guint) runs);

  cpns_wipe (psk_key, sizeof psk_key);
  return ok ? 0 : 1;
}
