/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "gw-test"

#include "config.h"

#include "gw-test-util.h"

static GError *
make_error (CpnsErrorCode code)
{
  if ((int) code < 0)
    return NULL;
  return g_error_new_literal (CPNS_ERROR, code, "test failure detail");
}

GwEvent *
gw_test_session_event (GwSessionState state,
                       guint          retry_in_s,
                       CpnsErrorCode  error_code)
{
  GwEvent *ev = gw_event_new (GW_EVENT_SESSION);

  ev->time = g_get_real_time ();
  ev->session = g_new0 (GwSessionInfo, 1);
  ev->session->state = state;
  if (state != GW_SESSION_NOT_ENROLLED)
    {
      ev->session->server_url = g_strdup ("https://cpns.example.org:7443");
      ev->session->server_name = g_strdup ("cpns.example.org");
      ev->session->user_id = g_strdup ("alice");
      ev->session->pn_id = g_strdup ("pn-4f1c2a9e8b7d6c5e4f3a2b1c0d9e8f7a");
      ev->session->gateway_id = g_strdup ("gw-0a1b2c3d4e5f60718293a4b5c6d7e8f9");
      ev->session->gateway_name = g_strdup ("alice-laptop");
    }
  if (state == GW_SESSION_CONNECTED)
    ev->session->expires_at = g_get_real_time () / G_USEC_PER_SEC + 3600;
  ev->session->retry_in_s = retry_in_s;
  ev->session->last_error = make_error (error_code);
  return ev;
}

GwEvent *
gw_test_entity_event (const char    *pne_id,
                      const char    *name,
                      const char    *type,
                      GwEntityState  state)
{
  GwEvent *ev = gw_event_new (GW_EVENT_ENTITY_CHANGED);
  GwEntityInfo *e = g_new0 (GwEntityInfo, 1);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  const char *services[] = { "temperature (coap:5683)", "humidity (coap:5683)", NULL };

  ev->time = g_get_real_time ();
  ev->entity = e;
  e->pne_id = g_strdup (pne_id);
  e->name = g_strdup (name);
  e->entity_type = g_strdup (type);
  e->manufacturer = g_strdup ("Acme");
  e->model = g_strdup ("T-100");
  e->serial = g_strdup ("4411");
  e->services = g_strdupv ((char **) services);
  e->state = state;
  e->key_mode = g_strdup ("server");
  e->key_id = g_strdup ("key-0123456789abcdef");
  e->key_issued_at = now - 3 * 86400;
  if (state == GW_ENTITY_CONNECTED)
    {
      e->session_id = g_strdup ("ses-00112233445566778899aabbccddeeff");
      e->session_expires_at = now + 86400;
    }
  e->last_seen = state == GW_ENTITY_CONNECTED ? now : now - 7200;
  e->registered_at = now - 3 * 86400;
  e->address = g_strdup ("192.168.1.23:7472");
  return ev;
}

GwEvent *
gw_test_step_event (guint64        flow_id,
                    GwFlowKind     kind,
                    const char    *pne_id,
                    const char    *pne_name,
                    GwStep         step,
                    GwStepOutcome  outcome,
                    CpnsErrorCode  error_code)
{
  GwEvent *ev = gw_event_new (GW_EVENT_FLOW_STEP);
  GwStepInfo *s = g_new0 (GwStepInfo, 1);
  gint64 now = g_get_real_time ();

  ev->time = now;
  ev->step = s;
  s->flow_id = flow_id;
  s->flow_kind = kind;
  s->pne_id = g_strdup (pne_id);
  s->pne_name = g_strdup (pne_name);
  s->step = step;
  s->outcome = outcome;
  s->started_at = now - 40000 - step * 1000;
  s->finished_at = outcome == GW_STEP_RUNNING ? 0 : now;
  s->error = make_error (error_code);
  if (step == GW_STEP_4DF && outcome == GW_STEP_DONE)
    s->detail = g_strdup ("you allowed");
  return ev;
}

GwEvent *
gw_test_prompt_event (GwEventType      type,
                      guint64          id,
                      GwPromptKind     kind,
                      const char      *pne_name,
                      guint32          code,
                      int              seconds_left,
                      GwWithdrawReason reason)
{
  GwEvent *ev = gw_event_new (type);
  GwPromptInfo *p = g_new0 (GwPromptInfo, 1);

  ev->time = g_get_real_time ();
  ev->prompt = p;
  ev->withdraw_reason = reason;
  p->id = id;
  p->kind = kind;
  p->pne_id = kind == GW_PROMPT_APPROVAL ? g_strdup ("pne-8c1e3f0a9b2d4c6e8f1a3b5c7d9e5a6b") : NULL;
  p->pne_name = g_strdup (pne_name);
  p->entity_type = g_strdup ("sensor");
  p->manufacturer = g_strdup ("Acme");
  p->model = g_strdup ("T-100");
  p->address = g_strdup ("192.168.1.23:7472");
  p->code = code;
  p->reason = kind == GW_PROMPT_APPROVAL ? g_strdup ("no rule matched; default action is ask") : NULL;
  p->first_time = TRUE;
  p->deadline = g_get_real_time () + (gint64) seconds_left * G_USEC_PER_SEC;
  return ev;
}

GwEvent *
gw_test_pairing_window_event (gboolean open,
                              guint    remaining_s)
{
  GwEvent *ev = gw_event_new (GW_EVENT_PAIRING_WINDOW);

  ev->time = g_get_real_time ();
  ev->pairing_window = g_new0 (GwPairingWindowInfo, 1);
  ev->pairing_window->open = open;
  ev->pairing_window->remaining_s = remaining_s;
  ev->pairing_window->closes_at = open ? g_get_real_time () + (gint64) remaining_s * G_USEC_PER_SEC : 0;
  return ev;
}

GwEvent *
gw_test_discovered_event (const char *id,
                          const char *name,
                          const char *type,
                          const char *address)
{
  GwEvent *ev = gw_event_new (GW_EVENT_DISCOVERED);

  ev->time = g_get_real_time ();
  ev->discovered = g_new0 (GwDiscoveredInfo, 1);
  ev->discovered->id = g_strdup (id);
  ev->discovered->name = g_strdup (name);
  ev->discovered->entity_type = g_strdup (type);
  ev->discovered->address = g_strdup (address);
  ev->discovered->last_heard = g_get_real_time () - 2 * G_USEC_PER_SEC;
  return ev;
}

static gboolean
count_tick (GtkWidget     *widget,
            GdkFrameClock *clock,
            gpointer       data)
{
  guint *left = data;

  if (*left > 0)
    (*left)--;
  return *left > 0 ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

void
gw_test_wait_frames (GtkWidget *widget,
                     guint      n)
{
  guint left = n;
  gint64 end = g_get_monotonic_time () + 3 * G_USEC_PER_SEC;
  guint id;

  id = gtk_widget_add_tick_callback (widget, count_tick, &left, NULL);
  while (left > 0 && g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, FALSE), g_usleep (1000);
  if (left > 0)
    gtk_widget_remove_tick_callback (widget, id);
}

void
gw_test_iterate (guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;

  while (g_get_monotonic_time () < end)
    {
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (1000);
    }
}

char *
gw_test_screenshot (GtkWidget  *widget,
                    const char *name)
{
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  GskRenderer *renderer;
  const char *dir = g_getenv ("CPNS_BUILD_ROOT");
  g_autofree char *shots = g_build_filename (dir ? dir : ".", "screenshots", NULL);
  g_autofree char *file = g_strconcat (name, ".png", NULL);
  char *path = g_build_filename (shots, file, NULL);
  int w = gtk_widget_get_width (widget);
  int h = gtk_widget_get_height (widget);

  g_mkdir_with_parents (shots, 0755);
  gdk_paintable_snapshot (paintable, GDK_SNAPSHOT (snapshot), w, h);
  node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  g_assert_nonnull (node);
  renderer = gtk_native_get_renderer (gtk_widget_get_native (widget));
  texture = gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, w, h));
  g_assert_true (gdk_texture_save_to_png (texture, path));
  return path;
}
