/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-gateway"

#include "config.h"

#include <math.h>

#include <glib/gi18n.h>

#include "gw-error-text.h"
#include "gw-format.h"
#include "gw-timeline.h"

#define PAD          8.0
#define LINE_X       20.0
#define MAIN_H       40.0
#define SUB_H        26.0
#define MAIN_R       11.0
#define SUB_R        6.0
#define SUB_X        46.0
#define TEXT_X       40.0
#define SUB_TEXT_X   60.0
#define CAUSE_GAP    6.0

typedef struct
{
  guint        main;        /* 1…5 */
  gboolean     sub;
  GwStep       first;       /* steps first…last make this row */
  GwStep       last;
  const char  *letter;      /* sub rows: "a", "b–d", … */
} Row;

static const Row rows[] = {
  { 1, FALSE, GW_STEP_1, GW_STEP_1, NULL },
  { 2, FALSE, GW_STEP_2, GW_STEP_2, NULL },
  { 3, FALSE, GW_STEP_3A, GW_STEP_3E, NULL },
  { 3, TRUE, GW_STEP_3A, GW_STEP_3A, "a" },
  { 3, TRUE, GW_STEP_3BD, GW_STEP_3BD, "b–d" },
  { 3, TRUE, GW_STEP_3E, GW_STEP_3E, "e" },
  { 4, FALSE, GW_STEP_4A, GW_STEP_4G, NULL },
  { 4, TRUE, GW_STEP_4A, GW_STEP_4A, "a" },
  { 4, TRUE, GW_STEP_4B, GW_STEP_4B, "b" },
  { 4, TRUE, GW_STEP_4C, GW_STEP_4C, "c" },
  { 4, TRUE, GW_STEP_4DF, GW_STEP_4DF, "d–f" },
  { 4, TRUE, GW_STEP_4G, GW_STEP_4G, "g" },
  { 5, FALSE, GW_STEP_5A, GW_STEP_5B, NULL },
  { 5, TRUE, GW_STEP_5A, GW_STEP_5A, "a" },
  { 5, TRUE, GW_STEP_5B, GW_STEP_5B, "b" },
};

#define N_ROWS G_N_ELEMENTS (rows)

struct _GwTimeline
{
  GtkWidget   parent_instance;

  GwFlowItem *flow;
  gulong      changed_id;
  GtkWidget  *retry_button;
  guint       tick_id;
  double      phase;           /* 0…1, running node animation */
  int         failed_row;      /* index into rows[], or -1 */
  GwStep      failed_step;
  gboolean    can_retry;
};

G_DEFINE_FINAL_TYPE (GwTimeline, gw_timeline, GTK_TYPE_WIDGET)

enum { PROP_0, PROP_FLOW, PROP_CAN_RETRY, N_PROPS };
static GParamSpec *properties[N_PROPS];
enum { RETRY, N_SIGNALS };
static guint signals[N_SIGNALS];

static const char *
main_title (guint main)
{
  switch (main)
    {
    case 1: return _("Server session");
    case 2: return _("Paired, code confirmed");
    case 3: return _("ID and key assigned");
    case 4: return _("Connection authorized");
    case 5: return _("Inventory updated");
    default: return "";
    }
}

static const char *
state_word (GwTimelineState state)
{
  switch (state)
    {
    case GW_TIMELINE_RUNNING: return _("Running");
    case GW_TIMELINE_DONE: return _("Done");
    case GW_TIMELINE_FAILED: return _("Failed");
    case GW_TIMELINE_SKIPPED: return _("Skipped");
    case GW_TIMELINE_PENDING:
    default: return _("Not started");
    }
}

/* State and time span of a row (a sub-step, or a main step made of sub-steps). */
static GwTimelineState
row_state (GwTimeline *self,
           const Row  *row,
           gint64     *started,
           gint64     *finished)
{
  gboolean any = FALSE, running = FALSE, failed = FALSE, last_present = FALSE;
  gboolean all_skipped = TRUE;
  gint64 s = 0, f = 0;

  if (self->flow == NULL)
    goto out;

  for (GwStep st = row->first; st <= row->last; st++)
    {
      const GwFlowStepRecord *r = gw_flow_item_get_step (self->flow, st);

      if (!r->present)
        continue;
      any = TRUE;
      if (r->outcome == GW_STEP_RUNNING)
        running = TRUE;
      if (r->outcome == GW_STEP_FAILED)
        failed = TRUE;
      if (r->outcome != GW_STEP_SKIPPED)
        all_skipped = FALSE;
      if (st == row->last)
        last_present = TRUE;
      if (r->started_at > 0 && (s == 0 || r->started_at < s))
        s = r->started_at;
      if (r->finished_at > f)
        f = r->finished_at;
    }
  /* 3a done means the device already had an ID and key: 3b–e do not run. */
  if (row->main == 3 && !row->sub)
    {
      const GwFlowStepRecord *a = gw_flow_item_get_step (self->flow, GW_STEP_3A);
      if (a->present && a->outcome == GW_STEP_DONE)
        last_present = TRUE;
    }

  /* Step 1 skipped: the session was already open, which is what it is for. */
  if (row->main == 1 && any && all_skipped)
    all_skipped = FALSE;

out:
  if (started)
    *started = s;
  if (finished)
    *finished = f;
  if (!any)
    return GW_TIMELINE_PENDING;
  if (failed)
    return GW_TIMELINE_FAILED;
  if (running || !last_present)
    return GW_TIMELINE_RUNNING;
  if (all_skipped)
    return GW_TIMELINE_SKIPPED;
  return GW_TIMELINE_DONE;
}

GwTimelineState
gw_timeline_get_main_state (GwTimeline *self,
                            guint       main_step)
{
  g_return_val_if_fail (GW_IS_TIMELINE (self), GW_TIMELINE_PENDING);
  g_return_val_if_fail (main_step >= 1 && main_step <= 5, GW_TIMELINE_PENDING);

  for (guint i = 0; i < N_ROWS; i++)
    if (rows[i].main == main_step && !rows[i].sub)
      return row_state (self, &rows[i], NULL, NULL);
  return GW_TIMELINE_PENDING;
}

static const GwFlowStepRecord *
row_failure (GwTimeline *self,
             const Row  *row,
             GwStep     *step_out)
{
  if (self->flow == NULL || !row->sub)
    return NULL;
  for (GwStep st = row->first; st <= row->last; st++)
    {
      const GwFlowStepRecord *r = gw_flow_item_get_step (self->flow, st);
      if (r->present && r->outcome == GW_STEP_FAILED)
        {
          if (step_out)
            *step_out = st;
          return r;
        }
    }
  return NULL;
}

static char *
cause_text (const GwFlowStepRecord *r)
{
  const char *sentence = r->error ? gw_error_text (r->error) : _("The step failed.");

  return g_strdup (sentence);
}

/* Rows 1 and 2 have no sub rows, so their failure hangs under the main row. */
static gboolean
row_shows_failure (GwTimeline *self,
                   guint       i)
{
  const Row *row = &rows[i];

  if (self->flow == NULL)
    return FALSE;
  if (row->sub)
    return row_failure (self, row, NULL) != NULL;
  if (row->first == row->last)
    {
      const GwFlowStepRecord *r = gw_flow_item_get_step (self->flow, row->first);
      return r->present && r->outcome == GW_STEP_FAILED;
    }
  return FALSE;
}

static const GwFlowStepRecord *
shown_failure (GwTimeline *self,
               guint       i,
               GwStep     *step)
{
  const Row *row = &rows[i];

  if (!row_shows_failure (self, i))
    return NULL;
  if (row->sub)
    return row_failure (self, row, step);
  *step = row->first;
  return gw_flow_item_get_step (self->flow, row->first);
}

static PangoLayout *
cause_layout (GwTimeline *self,
              guint       i,
              int         width)
{
  GwStep step = GW_STEP_1;
  const GwFlowStepRecord *r = shown_failure (self, i, &step);
  g_autofree char *text = NULL;
  PangoLayout *layout;
  double x = rows[i].sub ? SUB_TEXT_X : TEXT_X;

  if (r == NULL)
    return NULL;
  text = cause_text (r);
  layout = gtk_widget_create_pango_layout (GTK_WIDGET (self), text);
  pango_layout_set_wrap (layout, PANGO_WRAP_WORD_CHAR);
  pango_layout_set_width (layout, (int) MAX (50.0, width - x - PAD) * PANGO_SCALE);
  return layout;
}

static double
row_height (GwTimeline *self,
            guint       i,
            int         width,
            double     *cause_h)
{
  double h = rows[i].sub ? SUB_H : MAIN_H;
  g_autoptr(PangoLayout) layout = cause_layout (self, i, width);
  double extra = 0;

  if (layout != NULL)
    {
      int lw, lh;
      int bmin = 0, bnat = 0;

      pango_layout_get_pixel_size (layout, &lw, &lh);
      extra = lh + CAUSE_GAP;
      if (self->can_retry && (int) i == self->failed_row)
        {
          gtk_widget_measure (self->retry_button, GTK_ORIENTATION_VERTICAL, -1, &bmin, &bnat, NULL, NULL);
          extra += bnat + CAUSE_GAP;
        }
    }
  if (cause_h)
    *cause_h = extra;
  return h + extra;
}

static void
gw_timeline_measure (GtkWidget      *widget,
                     GtkOrientation  orientation,
                     int             for_size,
                     int            *minimum,
                     int            *natural,
                     int            *minimum_baseline,
                     int            *natural_baseline)
{
  GwTimeline *self = GW_TIMELINE (widget);

  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      *minimum = 320;
      *natural = 480;
    }
  else
    {
      double h = 2 * PAD;
      int width = for_size > 0 ? for_size : 480;

      for (guint i = 0; i < N_ROWS; i++)
        h += row_height (self, i, width, NULL);
      *minimum = *natural = (int) ceil (h);
    }
}

static void
gw_timeline_size_allocate (GtkWidget *widget,
                           int        width,
                           int        height,
                           int        baseline)
{
  GwTimeline *self = GW_TIMELINE (widget);
  double y = PAD;

  if (!gtk_widget_get_visible (self->retry_button))
    return;
  for (guint i = 0; i < N_ROWS; i++)
    {
      double cause_h = 0;
      double h = row_height (self, i, width, &cause_h);

      if ((int) i == self->failed_row)
        {
          int bmin, bnat, wmin, wnat;
          double base = rows[i].sub ? SUB_H : MAIN_H;

          gtk_widget_measure (self->retry_button, GTK_ORIENTATION_VERTICAL, -1, &bmin, &bnat, NULL, NULL);
          gtk_widget_measure (self->retry_button, GTK_ORIENTATION_HORIZONTAL, -1, &wmin, &wnat, NULL, NULL);
          gtk_widget_size_allocate (self->retry_button,
                                    &(GtkAllocation) {
                                      (int) (rows[i].sub ? SUB_TEXT_X : TEXT_X),
                                      (int) (y + base + cause_h - bnat - CAUSE_GAP),
                                      wnat, bnat },
                                    -1);
          break;
        }
      y += h;
    }
}

static void
set_source (cairo_t       *cr,
            const GdkRGBA *c,
            double         alpha)
{
  cairo_set_source_rgba (cr, c->red, c->green, c->blue, c->alpha * alpha);
}

static void
draw_glyph (cairo_t         *cr,
            GwTimelineState  state,
            double           cx,
            double           cy,
            double           r)
{
  cairo_save (cr);
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_set_line_width (cr, MAX (1.5, r / 5.0));
  cairo_set_line_cap (cr, CAIRO_LINE_CAP_ROUND);
  switch (state)
    {
    case GW_TIMELINE_DONE:
      cairo_move_to (cr, cx - r * 0.45, cy + r * 0.02);
      cairo_line_to (cr, cx - r * 0.1, cy + r * 0.38);
      cairo_line_to (cr, cx + r * 0.5, cy - r * 0.35);
      cairo_stroke (cr);
      break;
    case GW_TIMELINE_FAILED:
      cairo_move_to (cr, cx - r * 0.38, cy - r * 0.38);
      cairo_line_to (cr, cx + r * 0.38, cy + r * 0.38);
      cairo_move_to (cr, cx + r * 0.38, cy - r * 0.38);
      cairo_line_to (cr, cx - r * 0.38, cy + r * 0.38);
      cairo_stroke (cr);
      break;
    case GW_TIMELINE_SKIPPED:
      cairo_move_to (cr, cx - r * 0.45, cy);
      cairo_line_to (cr, cx + r * 0.45, cy);
      cairo_stroke (cr);
      break;
    case GW_TIMELINE_RUNNING:
      cairo_arc (cr, cx, cy, r * 0.3, 0, 2 * G_PI);
      cairo_fill (cr);
      break;
    case GW_TIMELINE_PENDING:
    default:
      break;
    }
  cairo_restore (cr);
}

static void
draw_text (cairo_t       *cr,
           PangoLayout   *layout,
           double         x,
           double         y_center,
           const GdkRGBA *color,
           double         alpha)
{
  int w, h;

  pango_layout_get_pixel_size (layout, &w, &h);
  cairo_move_to (cr, x, y_center - h / 2.0);
  set_source (cr, color, alpha);
  pango_cairo_show_layout (cr, layout);
}

static void
gw_timeline_snapshot (GtkWidget   *widget,
                      GtkSnapshot *snapshot)
{
  GwTimeline *self = GW_TIMELINE (widget);
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);
  GdkRGBA fg, done = { 0.15, 0.64, 0.41, 1 }, fail = { 0.75, 0.11, 0.16, 1 },
          run = { 0.21, 0.52, 0.89, 1 }, grey = { 0.55, 0.55, 0.55, 1 };
  g_autoptr(PangoLayout) layout = NULL;
  PangoFontDescription *bold;
  cairo_t *cr;
  double y = PAD, first_cy = -1, last_cy = -1;
  double ys[N_ROWS];

  gtk_style_context_get_color (gtk_widget_get_style_context (widget), &fg);
  cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, width, height));
  layout = gtk_widget_create_pango_layout (widget, NULL);
  pango_layout_set_ellipsize (layout, PANGO_ELLIPSIZE_END);
  bold = pango_font_description_copy (pango_context_get_font_description (pango_layout_get_context (layout)));
  pango_font_description_set_weight (bold, PANGO_WEIGHT_BOLD);

  for (guint i = 0; i < N_ROWS; i++)
    {
      ys[i] = y;
      if (!rows[i].sub)
        {
          double cy = y + MAIN_H / 2.0;
          if (first_cy < 0)
            first_cy = cy;
          last_cy = cy;
        }
      y += row_height (self, i, width, NULL);
    }

  /* The spine. */
  cairo_new_path (cr);
  cairo_set_line_width (cr, 2.0);
  set_source (cr, &fg, 0.2);
  cairo_move_to (cr, LINE_X, first_cy);
  cairo_line_to (cr, LINE_X, last_cy);
  cairo_stroke (cr);

  for (guint i = 0; i < N_ROWS; i++)
    {
      const Row *row = &rows[i];
      gint64 started = 0, finished = 0;
      GwTimelineState st = row_state (self, row, &started, &finished);
      double h = row->sub ? SUB_H : MAIN_H;
      double cy = ys[i] + h / 2.0;
      double cx = row->sub ? SUB_X : LINE_X;
      double r = row->sub ? SUB_R : MAIN_R;
      double text_x = row->sub ? SUB_TEXT_X : TEXT_X;
      const GdkRGBA *c = st == GW_TIMELINE_DONE ? &done : st == GW_TIMELINE_FAILED ? &fail :
                         st == GW_TIMELINE_RUNNING ? &run : &grey;
      g_autofree char *title = NULL;
      g_autofree char *right = NULL;
      g_autofree char *dur = NULL;
      g_autofree char *clock = NULL;
      double text_alpha = st == GW_TIMELINE_PENDING ? 0.45 : 1.0;
      GwStep fstep;
      const GwFlowStepRecord *fr;
      int right_w = 0;

      /* Node. */
      cairo_new_path (cr);
      if (st == GW_TIMELINE_RUNNING)
        {
          double pr = r + 2 + 8 * self->phase;
          cairo_arc (cr, cx, cy, pr, 0, 2 * G_PI);
          set_source (cr, &run, 0.5 * (1.0 - self->phase));
          cairo_fill (cr);
        }
      cairo_arc (cr, cx, cy, r, 0, 2 * G_PI);
      if (st == GW_TIMELINE_PENDING)
        {
          cairo_set_source_rgba (cr, 1, 1, 1, 0);
          set_source (cr, &fg, 0.06);
          cairo_fill_preserve (cr);
          set_source (cr, &fg, 0.35);
          cairo_set_line_width (cr, 1.5);
          cairo_stroke (cr);
        }
      else
        {
          set_source (cr, c, 1.0);
          cairo_fill (cr);
          draw_glyph (cr, st, cx, cy, r);
        }

      /* State in words, duration and time, right aligned. */
      if (started > 0 && finished >= started && st != GW_TIMELINE_RUNNING)
        dur = gw_format_duration (finished - started);
      /* The clock time only where there is room for it next to the title. */
      if (!row->sub && started > 0 && width >= 480)
        clock = gw_format_clock_us (started);
      if (dur && clock)
        right = g_strdup_printf ("%s · %s · %s", state_word (st), dur, clock);
      else if (dur)
        right = g_strdup_printf ("%s · %s", state_word (st), dur);
      else
        right = g_strdup (state_word (st));
      if (row->main == 1 && self->flow != NULL &&
          gw_flow_item_get_step (self->flow, GW_STEP_1)->present &&
          gw_flow_item_get_step (self->flow, GW_STEP_1)->outcome == GW_STEP_SKIPPED)
        {
          g_free (right);
          right = g_strdup (_("Done · session was already open"));
        }
      pango_layout_set_font_description (layout, NULL);
      pango_layout_set_width (layout, -1);
      pango_layout_set_text (layout, right, -1);
      pango_layout_get_pixel_size (layout, &right_w, NULL);
      draw_text (cr, layout, width - right_w - PAD, cy,
                 st == GW_TIMELINE_FAILED ? &fail : &fg, st == GW_TIMELINE_FAILED ? 1.0 : 0.6);

      /* Title. */
      if (row->sub)
        {
          const GwFlowStepRecord *rec = self->flow ? gw_flow_item_get_step (self->flow, row->first) : NULL;
          if (rec && rec->present && rec->detail && *rec->detail && st != GW_TIMELINE_FAILED)
            title = g_strdup_printf ("%s  %s — %s", row->letter, gw_format_step_title (row->first), rec->detail);
          else
            title = g_strdup_printf ("%s  %s", row->letter, gw_format_step_title (row->first));
          pango_layout_set_font_description (layout, NULL);
        }
      else
        {
          title = g_strdup_printf ("%u  %s", row->main, main_title (row->main));
          pango_layout_set_font_description (layout, bold);
        }
      pango_layout_set_text (layout, title, -1);
      pango_layout_set_width (layout, (int) MAX (10, width - text_x - right_w - 2 * PAD) * PANGO_SCALE);
      draw_text (cr, layout, text_x, cy, &fg, text_alpha);
      pango_layout_set_font_description (layout, NULL);

      /* The cause of a failure, in plain words. */
      fr = shown_failure (self, i, &fstep);
      if (fr != NULL)
        {
          g_autoptr(PangoLayout) cl = cause_layout (self, i, width);
          cairo_new_path (cr);
          cairo_move_to (cr, text_x, ys[i] + h);
          set_source (cr, &fail, 1.0);
          pango_cairo_show_layout (cr, cl);
        }
    }

  pango_font_description_free (bold);
  cairo_destroy (cr);

  gtk_widget_snapshot_child (widget, self->retry_button, snapshot);
}

static gboolean
on_tick (GtkWidget     *widget,
         GdkFrameClock *clock,
         gpointer       data)
{
  GwTimeline *self = GW_TIMELINE (widget);
  gint64 t = gdk_frame_clock_get_frame_time (clock);

  self->phase = (double) (t % 1200000) / 1200000.0;
  gtk_widget_queue_draw (widget);
  return G_SOURCE_CONTINUE;
}

static void
update_animation (GwTimeline *self)
{
  gboolean running = self->flow != NULL && gw_flow_item_is_running (self->flow);

  if (running && self->tick_id == 0 && gtk_widget_get_mapped (GTK_WIDGET (self)))
    self->tick_id = gtk_widget_add_tick_callback (GTK_WIDGET (self), on_tick, NULL, NULL);
  else if ((!running || !gtk_widget_get_mapped (GTK_WIDGET (self))) && self->tick_id != 0)
    {
      gtk_widget_remove_tick_callback (GTK_WIDGET (self), self->tick_id);
      self->tick_id = 0;
      self->phase = 0;
    }
}

static gboolean
step_retryable (GwStep step)
{
  return step == GW_STEP_1 || step == GW_STEP_2 || step == GW_STEP_3BD ||
         step == GW_STEP_3E || step == GW_STEP_4B;
}

static void
refresh (GwTimeline *self)
{
  g_autofree char *summary = NULL;
  gboolean can_retry = FALSE;

  self->failed_row = -1;
  for (guint i = 0; i < N_ROWS; i++)
    {
      GwStep st;
      const GwFlowStepRecord *r = shown_failure (self, i, &st);

      if (r != NULL)
        {
          self->failed_row = (int) i;
          self->failed_step = st;
          can_retry = step_retryable (st) && gw_error_is_retryable (r->error);
          break;
        }
    }
  if (can_retry != self->can_retry)
    {
      self->can_retry = can_retry;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CAN_RETRY]);
    }
  gtk_widget_set_visible (self->retry_button, can_retry);

  summary = gw_timeline_dup_summary (self);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, summary,
                                  -1);
  update_animation (self);
  gtk_widget_queue_resize (GTK_WIDGET (self));
}

char *
gw_timeline_dup_summary (GwTimeline *self)
{
  GString *s = g_string_new (NULL);

  g_return_val_if_fail (GW_IS_TIMELINE (self), NULL);

  for (guint i = 0; i < N_ROWS; i++)
    {
      GwTimelineState st = row_state (self, &rows[i], NULL, NULL);
      GwStep fs;
      const GwFlowStepRecord *fr;

      if (rows[i].sub)
        g_string_append_printf (s, "  %u%s %s: %s\n", rows[i].main, rows[i].letter,
                                gw_format_step_title (rows[i].first), state_word (st));
      else
        g_string_append_printf (s, "%u %s: %s\n", rows[i].main, main_title (rows[i].main), state_word (st));
      fr = shown_failure (self, i, &fs);
      if (fr != NULL)
        {
          g_autofree char *cause = cause_text (fr);
          g_string_append_printf (s, "    %s\n", cause);
        }
    }
  return g_string_free (s, FALSE);
}

static void
on_flow_changed (GwTimeline *self)
{
  refresh (self);
}

void
gw_timeline_set_flow (GwTimeline *self,
                      GwFlowItem *flow)
{
  g_return_if_fail (GW_IS_TIMELINE (self));
  g_return_if_fail (!flow || GW_IS_FLOW_ITEM (flow));

  if (self->flow == flow)
    return;
  if (self->flow != NULL)
    g_clear_signal_handler (&self->changed_id, self->flow);
  g_set_object (&self->flow, flow);
  if (flow != NULL)
    self->changed_id = g_signal_connect_swapped (flow, "changed", G_CALLBACK (on_flow_changed), self);
  refresh (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FLOW]);
}

GwFlowItem *
gw_timeline_get_flow (GwTimeline *self)
{
  g_return_val_if_fail (GW_IS_TIMELINE (self), NULL);
  return self->flow;
}

gboolean
gw_timeline_get_can_retry (GwTimeline *self)
{
  g_return_val_if_fail (GW_IS_TIMELINE (self), FALSE);
  return self->can_retry;
}

gboolean
gw_timeline_is_animating (GwTimeline *self)
{
  g_return_val_if_fail (GW_IS_TIMELINE (self), FALSE);
  return self->tick_id != 0;
}

static void
on_retry_clicked (GwTimeline *self)
{
  if (self->can_retry)
    g_signal_emit (self, signals[RETRY], 0, (guint) self->failed_step);
}

static void
gw_timeline_map (GtkWidget *widget)
{
  GTK_WIDGET_CLASS (gw_timeline_parent_class)->map (widget);
  update_animation (GW_TIMELINE (widget));
}

static void
gw_timeline_unmap (GtkWidget *widget)
{
  GTK_WIDGET_CLASS (gw_timeline_parent_class)->unmap (widget);
  update_animation (GW_TIMELINE (widget));
}

static void
gw_timeline_dispose (GObject *object)
{
  GwTimeline *self = GW_TIMELINE (object);

  if (self->flow != NULL)
    g_clear_signal_handler (&self->changed_id, self->flow);
  g_clear_object (&self->flow);
  g_clear_pointer (&self->retry_button, gtk_widget_unparent);
  G_OBJECT_CLASS (gw_timeline_parent_class)->dispose (object);
}

static void
gw_timeline_get_property (GObject    *object,
                          guint       prop_id,
                          GValue     *value,
                          GParamSpec *pspec)
{
  GwTimeline *self = GW_TIMELINE (object);

  switch (prop_id)
    {
    case PROP_FLOW: g_value_set_object (value, self->flow); break;
    case PROP_CAN_RETRY: g_value_set_boolean (value, self->can_retry); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gw_timeline_set_property (GObject      *object,
                          guint         prop_id,
                          const GValue *value,
                          GParamSpec   *pspec)
{
  switch (prop_id)
    {
    case PROP_FLOW: gw_timeline_set_flow (GW_TIMELINE (object), g_value_get_object (value)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gw_timeline_class_init (GwTimelineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = gw_timeline_dispose;
  object_class->get_property = gw_timeline_get_property;
  object_class->set_property = gw_timeline_set_property;
  widget_class->measure = gw_timeline_measure;
  widget_class->size_allocate = gw_timeline_size_allocate;
  widget_class->snapshot = gw_timeline_snapshot;
  widget_class->map = gw_timeline_map;
  widget_class->unmap = gw_timeline_unmap;

  properties[PROP_FLOW] = g_param_spec_object ("flow", NULL, NULL, GW_TYPE_FLOW_ITEM,
                                               G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_CAN_RETRY] = g_param_spec_boolean ("can-retry", NULL, NULL, FALSE,
                                                     G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[RETRY] = g_signal_new ("retry", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                 0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);

  gtk_widget_class_set_css_name (widget_class, "timeline");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
gw_timeline_init (GwTimeline *self)
{
  self->failed_row = -1;
  self->retry_button = gtk_button_new_with_mnemonic (_("_Retry"));
  gtk_widget_set_parent (self->retry_button, GTK_WIDGET (self));
  gtk_widget_set_visible (self->retry_button, FALSE);
  g_signal_connect_swapped (self->retry_button, "clicked", G_CALLBACK (on_retry_clicked), self);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, _("How the device joined"),
                                  -1);
  refresh (self);
}

GtkWidget *
gw_timeline_new (void)
{
  return g_object_new (GW_TYPE_TIMELINE, NULL);
}
