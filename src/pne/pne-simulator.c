/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-pne"

#include "config.h"

#include <stdio.h>
#include <sys/resource.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "cpns-error.h"
#include "pne-device.h"
#include "pne-exit.h"
#include "pne-output.h"
#include "pne-simulator.h"

#define MAX_ATTEMPTS       12
#define PAIRING_MAX        8      /* the gateway takes 8 pairings at once (§4.4) */
#define BACKOFF_FIRST_MS   200
#define BACKOFF_MAX_MS     8000
#define STOP_GRACE_MS      3000

typedef enum
{
  SIM_WAITING,      /* for a slot or a retry */
  SIM_PAIRING,
  SIM_CONNECTING,
  SIM_CONNECTED,
  SIM_DISCONNECTING,
  SIM_DONE,
  SIM_FAILED,
} SimState;

typedef struct
{
  PneSimulator *sim;
  guint         index;
  char         *name;
  PneDevice    *device;
  SimState      state;
  gboolean      paired;
  gboolean      has_slot;
  gboolean      has_pairing_slot;
  guint         attempts;
  guint         retry_id;
  gint64        op_started;
  CpnsErrorCode last_code;
} SimPne;

struct _PneSimulator
{
  GObject     parent_instance;

  char       *state_dir;
  guint       count;
  char       *gateway_address;
  GPtrArray  *targets;
  gboolean    multicast;
  char       *prefix;
  gboolean    connect;
  gboolean    stay;
  gboolean    announce;
  guint       concurrency;
  gboolean    no_resume;

  GPtrArray  *pnes;
  GQueue      queue;          /* SimPne waiting for a slot */
  guint       in_flight;
  guint       pairing_in_flight;
  guint       queue_idle_id;
  guint       n_settled;      /* reached the goal or failed for good */
  guint       n_paired;
  guint       n_connected;
  guint       n_failed;
  guint       n_retries;
  GHashTable *failures;       /* code name → count */
  GArray     *pair_ms;
  GArray     *connect_ms;
  GArray     *resume_ms;
  int         first_failure_exit;
  gint64      started;
  gboolean    summary_printed;
  gboolean    stopping;
  GMainLoop  *loop;
  guint       stop_timer_id;
};

G_DEFINE_FINAL_TYPE (PneSimulator, pne_simulator, G_TYPE_OBJECT)

static void sim_pne_advance (SimPne *p);

/* ------------------------------------------------------------------ */
/* Descriptors */

static const struct
{
  const char *name;
  const char *type;
  const char *services;
} kinds[] = {
  { "Kitchen Sensor", "sensor", "temperature:coap:5683,humidity:coap:5683" },
  { "Living Room Speaker", "speaker", "audio:rtp:5004,control:http:8080" },
  { "Front Door Camera", "camera", "video:rtsp:554" },
  { "Hallway Light", "actuator", "switch:coap:5683" },
  { "Bedroom Display", "display", "cast:http:8009" },
  { "Garden Thermometer", "sensor", "temperature:mqtt:1883" },
  { "Alice's Phone", "phone", "sync:https:443" },
  { "Study Computer", "computer", "ssh:tcp:22,files:smb:445" },
  { "Fitness Watch", "wearable", "heart_rate:ble" },
  { "Garage Door", "actuator", "door:coap:5683" },
  { "Bathroom Scale", "other", "weight:ble" },
  { "Office Speaker", "speaker", "audio:rtp:5004" },
  { "Baby Monitor", "camera", "video:rtsp:554,audio:rtp:5004" },
  { "Hall Motion Sensor", "sensor", "motion:coap:5683" },
  { "Kitchen Display", "display", "cast:http:8009" },
  { "Bob's Tablet", "computer", "sync:https:443" },
};

void
pne_simulator_describe (guint        index,
                        const char  *prefix,
                        char       **name,
                        const char **entity_type,
                        char      ***services)
{
  guint kind = index % G_N_ELEMENTS (kinds);
  guint round = index / G_N_ELEMENTS (kinds);
  g_autofree char *base = NULL;

  if (round == 0)
    base = g_strdup (kinds[kind].name);
  else
    base = g_strdup_printf ("%s %u", kinds[kind].name, round + 1);
  if (prefix != NULL && *prefix != '\0')
    *name = g_strdup_printf ("%s %s", prefix, base);
  else
    *name = g_steal_pointer (&base);
  *entity_type = kinds[kind].type;
  *services = g_strsplit (kinds[kind].services, ",", -1);
}

/* ------------------------------------------------------------------ */

static void
sim_pne_free (SimPne *p)
{
  g_clear_handle_id (&p->retry_id, g_source_remove);
  if (p->device != NULL)
    g_signal_handlers_disconnect_by_data (p->device, p);
  g_clear_object (&p->device);
  g_free (p->name);
  g_free (p);
}

static void
pne_simulator_finalize (GObject *object)
{
  PneSimulator *self = PNE_SIMULATOR (object);

  g_queue_clear (&self->queue);
  g_clear_pointer (&self->pnes, g_ptr_array_unref);
  g_clear_handle_id (&self->stop_timer_id, g_source_remove);
  g_clear_handle_id (&self->queue_idle_id, g_source_remove);
  g_free (self->state_dir);
  g_free (self->gateway_address);
  g_ptr_array_unref (self->targets);
  g_free (self->prefix);
  g_hash_table_unref (self->failures);
  g_array_unref (self->pair_ms);
  g_array_unref (self->connect_ms);
  g_array_unref (self->resume_ms);
  g_clear_pointer (&self->loop, g_main_loop_unref);
  G_OBJECT_CLASS (pne_simulator_parent_class)->finalize (object);
}

static void
pne_simulator_class_init (PneSimulatorClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pne_simulator_finalize;
}

static void
pne_simulator_init (PneSimulator *self)
{
  self->targets = g_ptr_array_new_with_free_func (g_free);
  self->failures = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, NULL);
  self->pair_ms = g_array_new (FALSE, FALSE, sizeof (double));
  self->connect_ms = g_array_new (FALSE, FALSE, sizeof (double));
  self->resume_ms = g_array_new (FALSE, FALSE, sizeof (double));
  self->concurrency = 16;
  self->multicast = TRUE;
  g_queue_init (&self->queue);
}

PneSimulator *
pne_simulator_new (const char *state_dir,
                   guint       count)
{
  PneSimulator *self;

  g_return_val_if_fail (state_dir != NULL, NULL);
  g_return_val_if_fail (count > 0, NULL);

  self = g_object_new (PNE_TYPE_SIMULATOR, NULL);
  self->state_dir = g_strdup (state_dir);
  self->count = count;
  return self;
}

void
pne_simulator_set_gateway_address (PneSimulator *self,
                                   const char   *host_port)
{
  g_return_if_fail (PNE_IS_SIMULATOR (self));
  g_free (self->gateway_address);
  self->gateway_address = g_strdup (host_port);
}

void
pne_simulator_add_discovery_target (PneSimulator *self,
                                    const char   *host_port)
{
  g_return_if_fail (PNE_IS_SIMULATOR (self));
  g_ptr_array_add (self->targets, g_strdup (host_port));
}

void
pne_simulator_set_multicast (PneSimulator *self,
                             gboolean      multicast)
{
  g_return_if_fail (PNE_IS_SIMULATOR (self));
  self->multicast = multicast;
}

void
pne_simulator_set_name_prefix (PneSimulator *self,
                               const char   *prefix)
{
  g_return_if_fail (PNE_IS_SIMULATOR (self));
  g_free (self->prefix);
  self->prefix = g_strdup (prefix);
}

void
pne_simulator_set_connect (PneSimulator *self,
                           gboolean      connect,
                           gboolean      stay)
{
  g_return_if_fail (PNE_IS_SIMULATOR (self));
  self->connect = connect || stay;
  self->stay = stay;
}

void
pne_simulator_set_announce (PneSimulator *self,
                            gboolean      announce)
{
  g_return_if_fail (PNE_IS_SIMULATOR (self));
  self->announce = announce;
}

void
pne_simulator_set_resume (PneSimulator *self,
                          gboolean      resume)
{
  g_return_if_fail (PNE_IS_SIMULATOR (self));
  self->no_resume = !resume;
}

void
pne_simulator_set_concurrency (PneSimulator *self,
                               guint         concurrency)
{
  g_return_if_fail (PNE_IS_SIMULATOR (self));
  self->concurrency = MAX (concurrency, 1);
}

/* ------------------------------------------------------------------ */
/* Figures */

static int
compare_double (gconstpointer a,
                gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y ? 1 : 0;
}

static double
percentile (GArray *values,
            double  p)
{
  guint i;

  if (values->len == 0)
    return 0;
  g_array_sort (values, compare_double);
  i = (guint) (p * (values->len - 1) + 0.5);
  return g_array_index (values, double, MIN (i, values->len - 1));
}

static void
print_summary (PneSimulator *self)
{
  double elapsed = (g_get_monotonic_time () - self->started) / 1e6;
  guint established = self->connect ? self->n_connected : self->n_paired;

  self->summary_printed = TRUE;
  if (pne_output_get_format () == PNE_OUTPUT_JSON)
    {
      g_autoptr(JsonObject) object = json_object_new ();
      g_autoptr(JsonObject) failures = json_object_new ();
      GHashTableIter iter;
      gpointer key, value;

      json_object_set_string_member (object, "step", "summary");
      json_object_set_int_member (object, "count", self->count);
      json_object_set_int_member (object, "paired", self->n_paired);
      json_object_set_int_member (object, "connected", self->n_connected);
      json_object_set_int_member (object, "failed", self->n_failed);
      json_object_set_int_member (object, "retries", self->n_retries);
      json_object_set_double_member (object, "elapsed_s", elapsed);
      json_object_set_double_member (object, "per_second", elapsed > 0 ? established / elapsed : 0);
      json_object_set_double_member (object, "pair_p50_ms", percentile (self->pair_ms, 0.5));
      json_object_set_double_member (object, "pair_p99_ms", percentile (self->pair_ms, 0.99));
      json_object_set_double_member (object, "connect_p50_ms", percentile (self->connect_ms, 0.5));
      json_object_set_double_member (object, "connect_p99_ms", percentile (self->connect_ms, 0.99));
      json_object_set_double_member (object, "resume_p50_ms", percentile (self->resume_ms, 0.5));
      json_object_set_double_member (object, "resume_p99_ms", percentile (self->resume_ms, 0.99));
      g_hash_table_iter_init (&iter, self->failures);
      while (g_hash_table_iter_next (&iter, &key, &value))
        json_object_set_int_member (failures, key, GPOINTER_TO_UINT (value));
      json_object_set_object_member (object, "failures", g_steal_pointer (&failures));
      pne_output_object (object);
      return;
    }

  printf ("Summary: %u devices: %u paired, %u connected, %u failed in %.1f s "
          "(%.1f devices/s), %u retries\n",
          self->count, self->n_paired, self->n_connected, self->n_failed, elapsed,
          elapsed > 0 ? established / elapsed : 0, self->n_retries);
  if (self->pair_ms->len > 0)
    printf ("  pairing (steps 2–3):      p50 %.1f ms, p99 %.1f ms over %u\n",
            percentile (self->pair_ms, 0.5), percentile (self->pair_ms, 0.99), self->pair_ms->len);
  if (self->connect_ms->len > 0)
    printf ("  connection setup (4–5):   p50 %.1f ms, p99 %.1f ms over %u\n",
            percentile (self->connect_ms, 0.5), percentile (self->connect_ms, 0.99),
            self->connect_ms->len);
  if (self->resume_ms->len > 0)
    printf ("  resume (PSK):             p50 %.1f ms, p99 %.1f ms over %u\n",
            percentile (self->resume_ms, 0.5), percentile (self->resume_ms, 0.99),
            self->resume_ms->len);
  if (g_hash_table_size (self->failures) > 0)
    {
      GHashTableIter iter;
      gpointer key, value;

      printf ("  failures:");
      g_hash_table_iter_init (&iter, self->failures);
      while (g_hash_table_iter_next (&iter, &key, &value))
        printf (" %s×%u", (const char *) key, GPOINTER_TO_UINT (value));
      printf ("\n");
    }
  fflush (stdout);
}

/* ------------------------------------------------------------------ */
/* Scheduling */

static void
maybe_finish (PneSimulator *self)
{
  if (self->n_settled < self->count)
    return;
  if (!self->summary_printed)
    print_summary (self);
  if (!self->stay || self->stopping)
    {
      gboolean any_busy = FALSE;

      for (guint i = 0; i < self->pnes->len; i++)
        {
          SimPne *p = g_ptr_array_index (self->pnes, i);

          if (p->state == SIM_DISCONNECTING)
            any_busy = TRUE;
        }
      if (!any_busy)
        g_main_loop_quit (self->loop);
    }
}

static gboolean
needs_pairing_slot (SimPne *p)
{
  return !p->paired && !p->sim->announce;
}

static gboolean
needs_slot (SimPne *p)
{
  /* Announcing devices wait for a person without holding a slot. */
  return p->paired || !p->sim->announce;
}

static gboolean
can_start (SimPne *p)
{
  PneSimulator *self = p->sim;

  if (needs_slot (p) && !p->has_slot && self->in_flight >= self->concurrency)
    return FALSE;
  if (needs_pairing_slot (p) && !p->has_pairing_slot
      && self->pairing_in_flight >= MIN (self->concurrency, PAIRING_MAX))
    return FALSE;
  return TRUE;
}

static void
take_slots (SimPne *p)
{
  PneSimulator *self = p->sim;

  if (needs_slot (p) && !p->has_slot)
    {
      p->has_slot = TRUE;
      self->in_flight++;
    }
  if (needs_pairing_slot (p) && !p->has_pairing_slot)
    {
      p->has_pairing_slot = TRUE;
      self->pairing_in_flight++;
    }
}

static gboolean
run_queue (gpointer user_data)
{
  PneSimulator *self = user_data;
  GList *l = self->queue.head;

  self->queue_idle_id = 0;
  while (l != NULL)
    {
      GList *next = l->next;
      SimPne *p = l->data;

      if (can_start (p))
        {
          g_queue_delete_link (&self->queue, l);
          take_slots (p);
          sim_pne_advance (p);
        }
      l = next;
      /* sim_pne_advance may have changed the queue: start over. */
      if (l != NULL && g_queue_find (&self->queue, l->data) == NULL)
        l = self->queue.head;
    }
  return G_SOURCE_REMOVE;
}

static void
schedule_queue (PneSimulator *self)
{
  if (self->queue_idle_id == 0 && !g_queue_is_empty (&self->queue))
    self->queue_idle_id = g_idle_add (run_queue, self);
}

static void
release_pairing_slot (SimPne *p)
{
  if (!p->has_pairing_slot)
    return;
  p->has_pairing_slot = FALSE;
  p->sim->pairing_in_flight--;
  schedule_queue (p->sim);
}

static void
release_slot (SimPne *p)
{
  release_pairing_slot (p);
  if (!p->has_slot)
    return;
  p->has_slot = FALSE;
  p->sim->in_flight--;
  schedule_queue (p->sim);
}

static void
settle (SimPne  *p,
        SimState state)
{
  PneSimulator *self = p->sim;

  p->state = state;
  release_slot (p);
  self->n_settled++;
  maybe_finish (self);
}

static void
step_line (SimPne     *p,
           const char *step,
           const char *message,
           JsonObject *details)
{
  pne_output_step ((int) p->index, p->name, step, message, details);
}

static gboolean
is_retryable (const GError *error)
{
  if (error->domain == G_IO_ERROR)
    return !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  if (error->domain != CPNS_ERROR)
    return FALSE;
  switch (error->code)
    {
    case CPNS_ERROR_PAIRING_CLOSED:
    case CPNS_ERROR_CLOSED:
    case CPNS_ERROR_TLS_FAILED:
    case CPNS_ERROR_SERVER_UNREACHABLE:
    case CPNS_ERROR_LOCKED_OUT:
    case CPNS_ERROR_INTERNAL:
    case CPNS_ERROR_CONFLICT:       /* "too many pairings at once" */
      return TRUE;
    case CPNS_ERROR_TIMEOUT:
      /* A busy gateway: not when discovery found nobody. */
      return TRUE;
    default:
      return FALSE;
    }
}

static gboolean
retry_now (gpointer user_data)
{
  SimPne *p = user_data;

  p->retry_id = 0;
  sim_pne_advance (p);
  return G_SOURCE_REMOVE;
}

static void
on_failure (SimPne       *p,
            const GError *error)
{
  PneSimulator *self = p->sim;
  const char *code = error->domain == CPNS_ERROR ? cpns_error_code_to_string (error->code)
                                                 : "internal";

  p->last_code = error->domain == CPNS_ERROR ? error->code : CPNS_ERROR_INTERNAL;
  if (self->stopping && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      settle (p, SIM_DONE);
      return;
    }
  if (!self->stopping && is_retryable (error) && (self->announce || p->attempts < MAX_ATTEMPTS))
    {
      guint backoff = BACKOFF_FIRST_MS << MIN (p->attempts, 6);
      g_autoptr(JsonObject) details = json_object_new ();
      g_autofree char *message = NULL;

      backoff = MIN (backoff, BACKOFF_MAX_MS);
      backoff = backoff / 2 + g_random_int_range (0, (gint32) backoff / 2 + 1);
      p->attempts++;
      self->n_retries++;
      release_slot (p);
      p->state = SIM_WAITING;
      json_object_set_string_member (details, "code", code);
      json_object_set_int_member (details, "retry_in_ms", backoff);
      message = g_strdup_printf ("%s; retrying in %u ms", error->message, backoff);
      if (pne_output_get_format () == PNE_OUTPUT_JSON)
        step_line (p, "retry", message, details);
      p->retry_id = g_timeout_add (backoff, retry_now, p);
      return;
    }

  self->n_failed++;
  g_hash_table_insert (self->failures, (gpointer) code,
                       GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (self->failures,
                                                                                code)) + 1));
  if (self->first_failure_exit == 0)
    self->first_failure_exit = pne_exit_code_for_error (error);
  pne_output_error ((int) p->index, p->name, error, pne_exit_code_for_error (error));
  settle (p, SIM_FAILED);
}

static void
on_device_progress (PneDevice  *device,
                    const char *step,
                    const char *message,
                    JsonObject *details,
                    gpointer    user_data)
{
  SimPne *p = user_data;

  if (pne_output_get_format () == PNE_OUTPUT_JSON)
    step_line (p, step, message, details);
  else if (g_str_equal (step, "paired") || g_str_equal (step, "connected"))
    step_line (p, step, message, NULL);
}

static void
on_device_disconnected (PneDevice    *device,
                        const GError *error,
                        gpointer      user_data)
{
  SimPne *p = user_data;
  PneSimulator *self = p->sim;

  if (p->state == SIM_DISCONNECTING)
    {
      p->state = SIM_DONE;
      maybe_finish (self);
      return;
    }
  if (p->state != SIM_CONNECTED)
    return;

  /* A staying device lost its connection. */
  self->n_connected--;
  if (error != NULL)
    pne_output_error ((int) p->index, p->name, error, pne_exit_code_for_error (error));
  else
    step_line (p, "disconnected", "Disconnected by the gateway", NULL);
  if (self->stopping)
    {
      p->state = SIM_DONE;
      maybe_finish (self);
      return;
    }
  if (error != NULL && (g_error_matches (error, CPNS_ERROR, CPNS_ERROR_REVOKED)
                        || g_error_matches (error, CPNS_ERROR, CPNS_ERROR_NOT_FOUND)))
    {
      p->state = SIM_DONE;
      return;
    }
  /* Reconnect (resume) later, politely. */
  p->state = SIM_WAITING;
  p->retry_id = g_timeout_add (BACKOFF_FIRST_MS * 5 + g_random_int_range (0, 1000),
                               retry_now, p);
  self->n_settled--;
}

static void
on_connect_done (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  SimPne *p = user_data;
  PneSimulator *self = p->sim;
  g_autoptr(GError) error = NULL;
  double ms;

  if (!pne_device_connect_finish (PNE_DEVICE (source), result, &error))
    {
      on_failure (p, error);
      return;
    }
  ms = (g_get_monotonic_time () - p->op_started) / 1000.0;
  g_array_append_val (pne_device_get_resumed (p->device) ? self->resume_ms : self->connect_ms, ms);
  self->n_connected++;
  p->attempts = 0;
  if (self->stay && !self->stopping)
    {
      p->state = SIM_CONNECTED;
      settle (p, SIM_CONNECTED);
      return;
    }
  p->state = SIM_DISCONNECTING;
  release_slot (p);
  self->n_settled++;
  pne_device_disconnect (p->device);
}

static void
on_pair_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  SimPne *p = user_data;
  PneSimulator *self = p->sim;
  g_autoptr(GError) error = NULL;
  double ms;

  if (!pne_device_pair_finish (PNE_DEVICE (source), result, &error))
    {
      on_failure (p, error);
      return;
    }
  ms = (g_get_monotonic_time () - p->op_started) / 1000.0;
  g_array_append_val (self->pair_ms, ms);
  self->n_paired++;
  p->paired = TRUE;
  p->attempts = 0;
  release_pairing_slot (p);
  if (!self->connect)
    {
      settle (p, SIM_DONE);
      return;
    }
  /* Keep the slot (if any) and connect straight away. */
  p->state = SIM_WAITING;
  sim_pne_advance (p);
}

static void
sim_pne_advance (SimPne *p)
{
  PneSimulator *self = p->sim;

  if (self->stopping)
    {
      if (p->state == SIM_WAITING)
        settle (p, SIM_DONE);
      return;
    }
  if (!can_start (p))
    {
      p->state = SIM_WAITING;
      g_queue_push_tail (&self->queue, p);
      return;
    }
  take_slots (p);

  p->op_started = g_get_monotonic_time ();
  if (!p->paired)
    {
      p->state = SIM_PAIRING;
      pne_device_pair_async (p->device, NULL, on_pair_done, p);
    }
  else
    {
      p->state = SIM_CONNECTING;
      pne_device_connect_async (p->device, NULL, on_connect_done, p);
    }
}

static gboolean
stop_timeout (gpointer user_data)
{
  PneSimulator *self = user_data;

  self->stop_timer_id = 0;
  g_main_loop_quit (self->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
on_signal (gpointer user_data)
{
  PneSimulator *self = user_data;

  if (self->stopping)
    {
      g_main_loop_quit (self->loop);
      return G_SOURCE_CONTINUE;
    }
  self->stopping = TRUE;
  for (guint i = 0; i < self->pnes->len; i++)
    {
      SimPne *p = g_ptr_array_index (self->pnes, i);

      g_clear_handle_id (&p->retry_id, g_source_remove);
      switch (p->state)
        {
        case SIM_CONNECTED:
          p->state = SIM_DISCONNECTING;
          pne_device_disconnect (p->device);
          break;
        case SIM_PAIRING:
        case SIM_CONNECTING:
          /* Cancelling completes the operation with G_IO_ERROR_CANCELLED. */
          pne_device_disconnect (p->device);
          break;
        case SIM_WAITING:
          g_queue_remove (&self->queue, p);
          settle (p, SIM_DONE);
          break;
        case SIM_DISCONNECTING:
        case SIM_DONE:
        case SIM_FAILED:
        default:
          break;
        }
    }
  self->stop_timer_id = g_timeout_add (STOP_GRACE_MS, stop_timeout, self);
  maybe_finish (self);
  return G_SOURCE_CONTINUE;
}

static void
raise_fd_limit (void)
{
  struct rlimit limit;

  /* Two sockets per device (TCP, plus UDP while discovering). */
  if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max)
    {
      limit.rlim_cur = limit.rlim_max;
      if (setrlimit (RLIMIT_NOFILE, &limit) != 0)
        g_debug ("Cannot raise the file descriptor limit");
    }
}

int
pne_simulator_run (PneSimulator *self)
{
  guint sigint_id, sigterm_id;
  int exit_code;

  g_return_val_if_fail (PNE_IS_SIMULATOR (self), PNE_EXIT_INTERNAL);

  raise_fd_limit ();
  self->loop = g_main_loop_new (NULL, FALSE);
  self->pnes = g_ptr_array_new_with_free_func ((GDestroyNotify) sim_pne_free);
  self->started = g_get_monotonic_time ();

  for (guint i = 0; i < self->count; i++)
    {
      SimPne *p = g_new0 (SimPne, 1);
      g_autofree char *dir_name = g_strdup_printf ("pne-%04u", i + 1);
      g_autofree char *dir = g_build_filename (self->state_dir, dir_name, NULL);
      g_auto(GStrv) services = NULL;
      g_autoptr(JsonObject) entity = NULL;
      g_autoptr(PneCredentials) existing = NULL;
      g_autoptr(GError) error = NULL;
      const char *type;
      PneTimeouts timeouts;

      p->sim = self;
      p->index = i + 1;
      pne_simulator_describe (i, self->prefix, &p->name, &type, &services);
      entity = pne_entity_new (p->name, type, "CPNS Simulator", "sim-1", dir_name,
                               (const char * const *) services, &error);
      g_assert_no_error (error);
      p->device = pne_device_new (dir);
      /* Each device its own loopback address, as on a LAN. */
      {
        g_autofree char *source = g_strdup_printf ("127.1.%u.%u", (i / 250) % 256, i % 250 + 1);

        pne_device_set_loopback_source (p->device, source);
      }
      pne_device_set_entity (p->device, entity);
      pne_device_set_gateway_address (p->device, self->gateway_address);
      for (guint t = 0; t < self->targets->len; t++)
        pne_device_add_discovery_target (p->device, g_ptr_array_index (self->targets, t));
      pne_device_set_multicast (p->device, self->multicast);
      pne_device_set_resume (p->device, !self->no_resume);
      pne_device_get_timeouts (p->device, &timeouts);
      if (self->announce)
        timeouts.discovery_ms = 0;
      pne_device_set_timeouts (p->device, &timeouts);
      g_signal_connect (p->device, "progress", G_CALLBACK (on_device_progress), p);
      g_signal_connect (p->device, "disconnected", G_CALLBACK (on_device_disconnected), p);

      /* A device paired by an earlier run connects with what it holds. */
      existing = pne_credentials_load (dir, NULL);
      if (existing != NULL && self->connect)
        {
          p->paired = TRUE;
          self->n_paired++;
        }
      g_ptr_array_add (self->pnes, p);
    }

  if (pne_output_get_format () == PNE_OUTPUT_TEXT)
    printf ("Simulating %u devices (state in %s)%s\n", self->count, self->state_dir,
            self->announce ? "; announcing until the gateway opens pairing" : "");
  for (guint i = 0; i < self->pnes->len; i++)
    sim_pne_advance (g_ptr_array_index (self->pnes, i));

  sigint_id = g_unix_signal_add (SIGINT, on_signal, self);
  sigterm_id = g_unix_signal_add (SIGTERM, on_signal, self);
  if (self->n_settled < self->count || (self->stay && !self->stopping))
    g_main_loop_run (self->loop);
  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);
  if (!self->summary_printed)
    print_summary (self);

  if (self->n_failed > 0)
    exit_code = self->first_failure_exit != 0 ? self->first_failure_exit : PNE_EXIT_INTERNAL;
  else if (self->stopping && self->n_settled < self->count)
    exit_code = PNE_EXIT_INTERRUPTED;
  else
    exit_code = PNE_EXIT_OK;

  /* Devices first: their callbacks point into the list. */
  g_clear_pointer (&self->pnes, g_ptr_array_unref);
  return exit_code;
}
