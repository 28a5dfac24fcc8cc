/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "gw-engine"

#include "config.h"

#include "gw-core.h"
#include "gw-discovery.h"
#include "gw-engine.h"
#include "gw-listener.h"

/* Where events go. Deliveries still queued on the owner's context when
 * the engine is freed hold it, and find func cleared: they are dropped. */
typedef struct
{
  GwEventFunc func;
  gpointer    user_data;
} Sink;

struct _GwEngine
{
  GwEngineConfig *config;
  GThread        *thread;
  GMainContext   *context;      /* the engine's */
  GMainLoop      *loop;
  GMainContext   *owner;        /* where events go */
  Sink           *sink;         /* atomic rc box */

  GMutex          lock;
  GCond           cond;
  gboolean        started;
  GError         *start_error;
  guint16         listen_port;
  guint16         discovery_port;

  GwCore         *core;         /* engine thread only */
};

GwEngineConfig *
gw_engine_config_new (void)
{
  GwEngineConfig *config = g_new0 (GwEngineConfig, 1);

  config->listen_address = g_strdup ("0.0.0.0");
  config->listen_port = 7471;
  config->discovery_enabled = TRUE;
  config->discovery_port = 7472;
  config->discovery_group = g_strdup ("239.255.74.72");
  config->key_mode = NULL;    /* NULL: the stored setting, else "server" */
  config->pairing_window_s = 120;
  config->approval_timeout_s = 120;
  config->heartbeat_s = 30;
  config->require_keyring = TRUE;
  return config;
}

void
gw_engine_config_free (GwEngineConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->data_dir);
  g_free (config->listen_address);
  g_free (config->discovery_group);
  g_strfreev (config->discovery_targets);
  g_free (config->key_mode);
  g_free (config->gateway_name);
  g_free (config);
}

static GwEngineConfig *
config_copy (const GwEngineConfig *c)
{
  GwEngineConfig *copy = g_new0 (GwEngineConfig, 1);

  *copy = *c;
  copy->data_dir = g_strdup (c->data_dir);
  copy->listen_address = g_strdup (c->listen_address);
  copy->discovery_group = g_strdup (c->discovery_group);
  copy->discovery_targets = g_strdupv (c->discovery_targets);
  copy->key_mode = g_strdup (c->key_mode);
  copy->gateway_name = g_strdup (c->gateway_name);
  return copy;
}

GwEngine *
gw_engine_new (const GwEngineConfig *config)
{
  GwEngine *engine = g_new0 (GwEngine, 1);
  g_autoptr(GwEngineConfig) defaults = NULL;

  if (config == NULL)
    config = defaults = gw_engine_config_new ();
  engine->config = config_copy (config);
  g_mutex_init (&engine->lock);
  g_cond_init (&engine->cond);
  return engine;
}

/* ------------------------------------------------------------------ */
/* Events to the owner's context */

typedef struct
{
  Sink     *sink;
  GwEvent  *event;
} Delivery;

static gboolean
deliver (gpointer data)
{
  Delivery *d = data;

  if (d->sink->func)
    d->sink->func (d->event, d->sink->user_data);
  return G_SOURCE_REMOVE;
}

static void
delivery_free (gpointer data)
{
  Delivery *d = data;

  gw_event_unref (d->event);
  g_atomic_rc_box_release (d->sink);
  g_free (d);
}

static void
emit_to_owner (GwEvent  *event,
               gpointer  user_data)
{
  GwEngine *engine = user_data;
  Delivery *d = g_new0 (Delivery, 1);

  d->sink = g_atomic_rc_box_acquire (engine->sink);
  d->event = event;
  g_main_context_invoke_full (engine->owner, G_PRIORITY_DEFAULT, deliver, d, delivery_free);
}

/* ------------------------------------------------------------------ */
/* The engine thread */

/* Stopping: withdraw prompts and close sockets, let the close callbacks
 * and those of the cancelled server requests run (for at most 2 s), so
 * that everything can then be freed on this thread. */
static void
stop_core (GwEngine *engine,
           GwCore   *core)
{
  gint64 deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;

  gw_core_stop (core);
  for (int i = 0; i < 200 && g_main_context_pending (engine->context); i++)
    g_main_context_iteration (engine->context, FALSE);
  while (gw_core_is_winding_down (core) && g_get_monotonic_time () < deadline)
    if (!g_main_context_iteration (engine->context, FALSE))
      g_usleep (1000);
}

static gpointer
engine_thread (gpointer data)
{
  GwEngine *engine = data;
  g_autoptr(GError) error = NULL;
  GwCore *core;

  g_main_context_push_thread_default (engine->context);
  core = gw_core_new (engine->config, engine->context, gw_clock_new_real (engine->context),
                      emit_to_owner, engine, &error);
  if (core && !gw_core_start_network (core, &error))
    {
      gw_core_stop (core);
      g_clear_pointer (&core, gw_core_free);
    }

  g_mutex_lock (&engine->lock);
  engine->core = core;
  if (core)
    {
      engine->listen_port = gw_listener_get_port (core->listener);
      engine->discovery_port = gw_discovery_get_port (core->discovery);
    }
  else
    engine->start_error = g_steal_pointer (&error);
  engine->started = TRUE;
  g_cond_signal (&engine->cond);
  g_mutex_unlock (&engine->lock);

  if (core)
    {
      gw_core_emit_initial (core);
      g_main_loop_run (engine->loop);

      stop_core (engine, core);
      emit_to_owner (gw_event_new (GW_EVENT_STOPPED), engine);
      gw_core_free (core);
      engine->core = NULL;
      while (g_main_context_pending (engine->context))
        g_main_context_iteration (engine->context, FALSE);
    }
  g_main_context_pop_thread_default (engine->context);
  return NULL;
}

gboolean
gw_engine_start (GwEngine     *engine,
                 GwEventFunc   func,
                 gpointer      user_data,
                 GError      **error)
{
  g_return_val_if_fail (engine != NULL, FALSE);
  g_return_val_if_fail (engine->thread == NULL, FALSE);

  if (engine->sink == NULL)
    engine->sink = g_atomic_rc_box_new0 (Sink);
  engine->sink->func = func;
  engine->sink->user_data = user_data;
  engine->owner = g_main_context_ref_thread_default ();
  engine->context = g_main_context_new ();
  engine->loop = g_main_loop_new (engine->context, FALSE);
  engine->started = FALSE;
  engine->thread = g_thread_new ("gw-engine", engine_thread, engine);

  g_mutex_lock (&engine->lock);
  while (!engine->started)
    g_cond_wait (&engine->cond, &engine->lock);
  g_mutex_unlock (&engine->lock);

  if (engine->start_error)
    {
      g_propagate_error (error, g_steal_pointer (&engine->start_error));
      g_thread_join (g_steal_pointer (&engine->thread));
      g_clear_pointer (&engine->loop, g_main_loop_unref);
      g_clear_pointer (&engine->context, g_main_context_unref);
      g_clear_pointer (&engine->owner, g_main_context_unref);
      return FALSE;
    }
  return TRUE;
}

typedef struct
{
  GwEngine  *engine;
  GwCommand *command;
} Invocation;

static gboolean
run_command (gpointer data)
{
  Invocation *inv = data;

  if (inv->engine->core)
    gw_core_handle_command (inv->engine->core, inv->command);
  return G_SOURCE_REMOVE;
}

static void
invocation_free (gpointer data)
{
  Invocation *inv = data;

  gw_command_unref (inv->command);
  g_free (inv);
}

void
gw_engine_send (GwEngine  *engine,
                GwCommand *command)
{
  Invocation *inv;

  g_return_if_fail (engine != NULL);
  g_return_if_fail (command != NULL);
  if (engine->thread == NULL)
    {
      gw_command_unref (command);
      return;
    }
  inv = g_new0 (Invocation, 1);
  inv->engine = engine;
  inv->command = command;
  g_main_context_invoke_full (engine->context, G_PRIORITY_DEFAULT, run_command, inv, invocation_free);
}

guint16
gw_engine_get_listen_port (GwEngine *engine)
{
  return engine->listen_port;
}

guint16
gw_engine_get_discovery_port (GwEngine *engine)
{
  return engine->discovery_port;
}

static gboolean
quit_loop (gpointer data)
{
  GwEngine *engine = data;

  g_main_loop_quit (engine->loop);
  return G_SOURCE_REMOVE;
}

void
gw_engine_stop (GwEngine *engine)
{
  g_return_if_fail (engine != NULL);
  if (engine->thread == NULL)
    return;
  g_main_context_invoke (engine->context, quit_loop, engine);
  g_thread_join (g_steal_pointer (&engine->thread));
  g_clear_pointer (&engine->loop, g_main_loop_unref);
  /* Commands sent after the loop ended are dropped with the context. */
  while (g_main_context_pending (engine->context))
    g_main_context_iteration (engine->context, FALSE);
  g_clear_pointer (&engine->context, g_main_context_unref);
}

void
gw_engine_free (GwEngine *engine)
{
  if (engine == NULL)
    return;
  gw_engine_stop (engine);
  if (engine->sink)
    {
      engine->sink->func = NULL;
      g_atomic_rc_box_release (engine->sink);
    }
  g_clear_pointer (&engine->owner, g_main_context_unref);
  g_clear_pointer (&engine->config, gw_engine_config_free);
  g_mutex_clear (&engine->lock);
  g_cond_clear (&engine->cond);
  g_free (engine);
}
