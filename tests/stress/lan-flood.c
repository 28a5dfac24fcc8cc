/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Issue 7, item 3: LAN flood. N PNEs are paired and hold resumed PSK
 * sessions to a real cpns-gatewayd; while a flood keeps IDLE idle
 * unauthenticated TCP sockets open (10 per source address, re-opened as
 * the gateway closes them) and RATE garbage handshakes per second arrive,
 * for SECONDS, every connected PNE pings in turn and the round trips are
 * recorded. Figures: ping p50/p99/max, how many idle sockets the gateway
 * held at most (in all, per address), garbage handshakes made.
 *
 *   lan-flood [--tap] [SECONDS IDLE RATE PNES]     (harness: 60 1000 200 64)
 *
 * The stress suite runs a short variant. Loopback only: sources are
 * 127.0.0.0/8 addresses. */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cpns-base64.h"
#include "cpns-crypto.h"
#include "flood-socket.h"
#include "gw-test-fixture.h"
#include "sec-tls-client.h"

static guint seconds = 8, idle_target = 200, rate = 100, n_pnes = 16;
static Fixture fx;

typedef struct
{
  int     fd;
  guint32 source;       /* host order */
} Idle;

typedef struct
{
  gint      stop;
  guint16   port;
  guint     garbage_made;
  guint     idle_opened;
  guint     max_open;
  guint     max_per_address;
} Flood;

/* Connected and still open from the gateway's side (no EOF, no reset).
 * A socket still in SYN_SENT (the listen backlog was full) is not held by
 * the gateway. */
static gboolean
still_open (int fd)
{
  struct pollfd pfd = { fd, POLLIN, 0 };
  struct sockaddr_in peer;
  socklen_t len = sizeof peer;
  char c;

  if (getpeername (fd, (struct sockaddr *) &peer, &len) != 0)
    return FALSE;
  if (poll (&pfd, 1, 0) <= 0)
    return TRUE;
  if (pfd.revents & (POLLERR | POLLHUP))
    return FALSE;
  return recv (fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

static gpointer
flood_thread (gpointer data)
{
  Flood *f = data;
  g_autofree Idle *idle = g_new0 (Idle, idle_target);
  guint8 junk[512];
  gint64 next_garbage = g_get_monotonic_time ();
  gint64 interval = G_USEC_PER_SEC / MAX (rate, 1);
  guint32 garbage_source = 0x7f030001;   /* 127.3.0.1 */

  for (guint i = 0; i < sizeof junk; i++)
    junk[i] = (guint8) (i * 151 + 7);
  junk[0] = 0x16; junk[1] = 0x03; junk[2] = 0x01; junk[3] = 0x01; junk[4] = 0xfb;
  for (guint i = 0; i < idle_target; i++)
    {
      idle[i].source = 0x7f020001 + i / 10;   /* 127.2.x.y, 10 sockets each */
      idle[i].fd = -1;
    }

  while (!g_atomic_int_get (&f->stop))
    {
      g_autoptr(GHashTable) per_address = g_hash_table_new (NULL, NULL);
      guint open = 0;

      /* Idle sockets: count those the gateway still holds, re-open the others. */
      for (guint i = 0; i < idle_target; i++)
        {
          if (idle[i].fd >= 0 && still_open (idle[i].fd))
            {
              guint n = GPOINTER_TO_UINT (g_hash_table_lookup (per_address, GUINT_TO_POINTER (idle[i].source)));

              g_hash_table_insert (per_address, GUINT_TO_POINTER (idle[i].source), GUINT_TO_POINTER (n + 1));
              open++;
              f->max_per_address = MAX (f->max_per_address, n + 1);
              continue;
            }
          if (idle[i].fd >= 0)
            close (idle[i].fd);
          idle[i].fd = flood_connect_from (idle[i].source, f->port);
          f->idle_opened++;
        }
      f->max_open = MAX (f->max_open, open);

      /* Garbage handshakes at RATE per second. */
      while (g_get_monotonic_time () >= next_garbage)
        {
          int fd = flood_connect_from (garbage_source, f->port);

          garbage_source = 0x7f030001 + (garbage_source - 0x7f030000) % 4000;
          if (fd >= 0)
            {
              struct pollfd pfd = { fd, POLLOUT, 0 };

              if (poll (&pfd, 1, 50) > 0)
                (void) !send (fd, junk, sizeof junk, MSG_NOSIGNAL);
              close (fd);
              f->garbage_made++;
            }
          next_garbage += interval;
        }
      g_usleep (20000);
    }
  for (guint i = 0; i < idle_target; i++)
    if (idle[i].fd >= 0)
      close (idle[i].fd);
  return NULL;
}

static int
compare_double (gconstpointer a,
                gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

static void
test_flood (void)
{
  g_autofree char *sim_dir = g_build_filename (fx.dir, "simulated", NULL);
  g_autofree char *count = g_strdup_printf ("%u", n_pnes);
  g_autoptr(GPtrArray) pnes = g_ptr_array_new_with_free_func ((GDestroyNotify) sec_tls_free);
  g_autoptr(GArray) rtts = g_array_new (FALSE, FALSE, sizeof (double));
  Flood flood = { 0 };
  GThread *thread;
  gint64 end;
  guint lost = 0;
  double p50, p99, max;

  /* Pair and connect N devices, then resume each session here. */
  g_assert_cmpint (t_pne_run (120000, "simulate", "--count", count, "--gateway", fx.address, "--connect",
                              "--state-dir", sim_dir, NULL), ==, 0);
  for (guint i = 0; i < n_pnes; i++)
    {
      g_autofree char *dir = g_strdup_printf ("%s/pne-%04u", sim_dir, i + 1);
      g_autofree char *pne_id = t_pne_credential (dir, "pne_id");
      g_autofree char *session_id = t_pne_credential (dir, "session_id");
      g_autofree char *key_text = t_pne_credential (dir, "session_key");
      g_autofree char *req = NULL;
      g_autofree char *frame = NULL;
      SecTls *tls = sec_tls_connect (fx.gw->port);
      guint8 key[32];

      g_assert_nonnull (session_id);
      g_assert_true (cpns_base64url_decode_exact (key_text, key, 32));
      g_assert_true (sec_tls_handshake_psk (tls, session_id, key));
      cpns_wipe (key, 32);
      req = g_strdup_printf ("{\"v\":1,\"type\":\"session_resume_request\",\"pne_id\":\"%s\",\"session_id\":\"%s\"}",
                             pne_id, session_id);
      g_assert_true (sec_tls_send_frame (tls, req));
      frame = sec_tls_read_frame (tls, 10000);
      g_assert_nonnull (frame);
      g_assert_nonnull (strstr (frame, "connection_setup_complete"));
      g_ptr_array_add (pnes, tls);
    }

  flood.port = fx.gw->port;
  thread = g_thread_new ("flood", flood_thread, &flood);
  end = g_get_monotonic_time () + (gint64) seconds * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < end)
    for (guint i = 0; i < pnes->len && g_get_monotonic_time () < end; i++)
      {
        SecTls *tls = pnes->pdata[i];
        gint64 start = g_get_monotonic_time ();
        char *frame = NULL;
        double ms;

        g_assert_true (sec_tls_send_frame (tls, "{\"v\":1,\"type\":\"ping\"}"));
        /* Skip the gateway's own pings. */
        do
          {
            g_free (frame);
            frame = sec_tls_read_frame (tls, 2000);
          }
        while (frame != NULL && strstr (frame, "\"pong\"") == NULL);
        if (frame == NULL)
          {
            lost++;
            continue;
          }
        g_free (frame);
        ms = (g_get_monotonic_time () - start) / 1000.0;
        g_array_append_val (rtts, ms);
      }
  g_atomic_int_set (&flood.stop, 1);
  g_thread_join (thread);

  g_array_sort (rtts, compare_double);
  g_assert_cmpuint (rtts->len, >, 0);
  p50 = g_array_index (rtts, double, rtts->len / 2);
  p99 = g_array_index (rtts, double, (rtts->len * 99) / 100);
  max = g_array_index (rtts, double, rtts->len - 1);
  g_print ("# FIGURE LAN flood (%u s, %u idle sockets from %u addresses, %u garbage handshakes/s, %u PNEs):"
           " %u pings, p50 %.1f ms, p99 %.1f ms, max %.1f ms, %u lost; %u garbage handshakes, %u idle"
           " connects; the gateway held at most %u idle sockets (%u per address)\n",
           seconds, idle_target, (idle_target + 9) / 10, rate, n_pnes, rtts->len, p50, p99, max, lost,
           flood.garbage_made, flood.idle_opened, flood.max_open, flood.max_per_address);
  g_assert_cmpuint (lost, ==, 0);
  g_assert_cmpfloat (p99, <, 200.0);

  /* The limits, measured without the flood: 10 idle sockets from one
   * address, then 3 from each of 20 addresses; 500 ms later the gateway
   * holds at most 4 of the first and 32 in all. */
  {
    int one[10], many[60];
    guint held_one = 0, held_many = 0;

    for (guint i = 0; i < 10; i++)
      one[i] = flood_connect_from (0x7f040001, fx.gw->port);
    g_usleep (500000);
    for (guint i = 0; i < 10; i++)
      held_one += one[i] >= 0 && still_open (one[i]);
    for (guint i = 0; i < 60; i++)
      many[i] = flood_connect_from (0x7f050001 + i / 3, fx.gw->port);
    g_usleep (500000);
    for (guint i = 0; i < 60; i++)
      held_many += many[i] >= 0 && still_open (many[i]);
    g_print ("# FIGURE unauthenticated limits: %u of 10 idle sockets from one address held,"
             " %u of 60 from 20 addresses (plus %u from the first)\n", held_one, held_many, held_one);
    for (guint i = 0; i < 10; i++)
      if (one[i] >= 0)
        close (one[i]);
    for (guint i = 0; i < 60; i++)
      if (many[i] >= 0)
        close (many[i]);
    g_assert_cmpuint (held_one, <=, 4);
    g_assert_cmpuint (held_one + held_many, <=, 32);
  }
  /* Still accepting legitimate devices. */
  {
    g_autofree char *dir = g_strdup_printf ("%s/pne-0001", sim_dir);
    g_assert_cmpint (t_pne_run (30000, "connect", "--once", "--state-dir", dir, NULL), ==, 0);
  }
}

int
main (int   argc,
      char *argv[])
{
  const char *extra[] = { "--confirm-pairing", "always", "--approve", "always", NULL };
  struct rlimit rl;
  int ret;

  g_test_init (&argc, &argv, NULL);
  if (argc > 4)
    {
      seconds = (guint) g_ascii_strtoull (argv[1], NULL, 10);
      idle_target = (guint) g_ascii_strtoull (argv[2], NULL, 10);
      rate = (guint) g_ascii_strtoull (argv[3], NULL, 10);
      n_pnes = (guint) g_ascii_strtoull (argv[4], NULL, 10);
    }
  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
    {
      rl.rlim_cur = rl.rlim_max;
      setrlimit (RLIMIT_NOFILE, &rl);
    }
  gnutls_global_init ();
  fixture_start (&fx, extra);
  g_test_add_func ("/stress/lan-flood", test_flood);
  ret = g_test_run ();
  fixture_stop (&fx);
  return ret;
}
