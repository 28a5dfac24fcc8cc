/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-gateway"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "cpns-crypto.h"
#include "cpns-invitation.h"

#include "gw-error-text.h"
#include "gw-first-run-page.h"

enum { STEP_REACH, STEP_IDENTITY, STEP_ENROLL, N_STEPS };

struct _GwFirstRunPage
{
  AdwBin          parent_instance;

  GwAppState     *state;
  gulong          done_id;
  gboolean        busy;

  GtkEntry       *invitation_entry;
  GtkWidget      *connect_button;
  GtkLabel       *error_label;
  GtkRevealer    *pin_revealer;
  AdwActionRow   *pin_row;
  GtkRevealer    *progress_revealer;
  AdwPreferencesGroup *progress_group;
  GtkWidget      *details_button;
  GtkRevealer    *details_revealer;
  AdwEntryRow    *server_row;
  AdwEntryRow    *user_row;
  AdwEntryRow    *code_row;
  AdwEntryRow    *fingerprint_row;
  GtkWidget      *details_connect_button;

  AdwActionRow   *step_rows[N_STEPS];
  GtkWidget      *step_spinners[N_STEPS];
  GtkImage       *step_icons[N_STEPS];
};

G_DEFINE_FINAL_TYPE (GwFirstRunPage, gw_first_run_page, ADW_TYPE_BIN)

typedef enum { ROW_PENDING, ROW_RUNNING, ROW_DONE, ROW_FAILED } RowState;

static void
set_step (GwFirstRunPage *self,
          guint           step,
          RowState        state)
{
  static const char *icons[] = { "content-loading-symbolic", NULL, "emblem-ok-symbolic", "dialog-error-symbolic" };
  const char *words[] = { _("Not started"), _("Running"), _("Done"), _("Failed") };

  gtk_widget_set_visible (self->step_spinners[step], state == ROW_RUNNING);
  gtk_spinner_set_spinning (GTK_SPINNER (self->step_spinners[step]), state == ROW_RUNNING);
  gtk_widget_set_visible (GTK_WIDGET (self->step_icons[step]), state != ROW_RUNNING);
  if (icons[state])
    gtk_image_set_from_icon_name (self->step_icons[step], icons[state]);
  adw_action_row_set_subtitle (self->step_rows[step], words[state]);
  gtk_widget_remove_css_class (GTK_WIDGET (self->step_icons[step]), "success");
  gtk_widget_remove_css_class (GTK_WIDGET (self->step_icons[step]), "error");
  if (state == ROW_DONE)
    gtk_widget_add_css_class (GTK_WIDGET (self->step_icons[step]), "success");
  if (state == ROW_FAILED)
    gtk_widget_add_css_class (GTK_WIDGET (self->step_icons[step]), "error");
}

static void
set_busy (GwFirstRunPage *self,
          gboolean        busy)
{
  self->busy = busy;
  gtk_widget_set_sensitive (GTK_WIDGET (self->invitation_entry), !busy);
  gtk_widget_set_sensitive (self->connect_button, !busy);
  gtk_widget_set_sensitive (self->details_connect_button, !busy);
  gtk_widget_set_sensitive (GTK_WIDGET (self->details_revealer), !busy);
}

static void
show_error (GwFirstRunPage *self,
            const char     *text)
{
  gtk_label_set_label (self->error_label, text ? text : "");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), text != NULL);
}

static void
start_enrollment (GwFirstRunPage *self,
                  GwCommand      *cmd)
{
  g_autofree char *name = g_strdup (g_get_host_name ());

  cmd->gateway_name = g_steal_pointer (&name);
  show_error (self, NULL);
  gtk_revealer_set_reveal_child (self->pin_revealer, FALSE);
  gtk_revealer_set_reveal_child (self->progress_revealer, TRUE);
  for (guint i = 0; i < N_STEPS; i++)
    set_step (self, i, ROW_RUNNING);
  set_busy (self, TRUE);
  gw_app_state_send (self->state, cmd);
}

/* "sha256:abcd…" → "AB:CD:…" in lines of 16 bytes. */
static char *
format_fingerprint (const char *pin)
{
  GString *s = g_string_new (NULL);
  const char *hex = g_str_has_prefix (pin, "sha256:") ? pin + 7 : pin;
  guint n = 0;

  for (const char *p = hex; p[0] && p[1]; p += 2, n++)
    {
      if (n > 0)
        g_string_append_c (s, n % 16 == 0 ? '\n' : ':');
      g_string_append_c (s, g_ascii_toupper (p[0]));
      g_string_append_c (s, g_ascii_toupper (p[1]));
    }
  return g_string_free (s, FALSE);
}

void
gw_first_run_page_connect (GwFirstRunPage *self)
{
  g_autoptr(CpnsInvitation) invitation = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *trimmed = NULL;
  const char *text;

  g_return_if_fail (GW_IS_FIRST_RUN_PAGE (self));

  if (self->busy)
    return;
  text = gtk_editable_get_text (GTK_EDITABLE (self->invitation_entry));
  if (text == NULL || *text == '\0')
    {
      show_error (self, _("Paste the invitation first, or enter the server details instead."));
      return;
    }
  trimmed = g_strstrip (g_strdup (text));
  invitation = cpns_invitation_parse (trimmed, &error);
  cpns_wipe (trimmed, strlen (trimmed));
  if (invitation == NULL)
    {
      g_debug ("Invitation refused: %s", error->message);
      show_error (self, _("This is not an invitation. It starts with “cpns://enroll?” and names a server, a user and a code."));
      return;
    }
  if (invitation->pin_sha256 != NULL)
    {
      g_autofree char *fp = format_fingerprint (invitation->pin_sha256);

      adw_action_row_set_subtitle (self->pin_row, fp);
      show_error (self, NULL);
      gtk_revealer_set_reveal_child (self->pin_revealer, TRUE);
      return;
    }
  gw_first_run_page_confirm_pin (self);
}

void
gw_first_run_page_confirm_pin (GwFirstRunPage *self)
{
  GwCommand *cmd;

  g_return_if_fail (GW_IS_FIRST_RUN_PAGE (self));

  if (self->busy)
    return;
  cmd = gw_command_new (GW_COMMAND_ENROLL);
  cmd->invitation = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->invitation_entry))));
  start_enrollment (self, cmd);
}

static void
on_connect_clicked (GwFirstRunPage *self)
{
  gw_first_run_page_connect (self);
}

static void
on_entry_changed (GwFirstRunPage *self)
{
  gtk_revealer_set_reveal_child (self->pin_revealer, FALSE);
}

static void
on_pin_cancel (GwFirstRunPage *self)
{
  gtk_revealer_set_reveal_child (self->pin_revealer, FALSE);
}

static void
on_details_clicked (GwFirstRunPage *self)
{
  gboolean reveal = !gtk_revealer_get_reveal_child (self->details_revealer);

  gtk_revealer_set_reveal_child (self->details_revealer, reveal);
  if (reveal)
    gtk_widget_grab_focus (GTK_WIDGET (self->server_row));
}

static void
on_details_connect (GwFirstRunPage *self)
{
  const char *server = gtk_editable_get_text (GTK_EDITABLE (self->server_row));
  const char *user = gtk_editable_get_text (GTK_EDITABLE (self->user_row));
  const char *code = gtk_editable_get_text (GTK_EDITABLE (self->code_row));
  const char *pin = gtk_editable_get_text (GTK_EDITABLE (self->fingerprint_row));
  GwCommand *cmd;

  if (!g_str_has_prefix (server, "https://"))
    {
      show_error (self, _("The server address starts with “https://”."));
      return;
    }
  if (*user == '\0' || *code == '\0')
    {
      show_error (self, _("Enter the user name and the enrollment code from your operator."));
      return;
    }
  cmd = gw_command_new (GW_COMMAND_ENROLL);
  cmd->server_url = g_strdup (server);
  cmd->user_id = g_strdup (user);
  cmd->code = g_strdup (code);
  if (*pin != '\0')
    cmd->pin_sha256 = g_str_has_prefix (pin, "sha256:") ? g_strdup (pin) : g_strconcat ("sha256:", pin, NULL);
  start_enrollment (self, cmd);
}

static void
on_enrollment_done (GwFirstRunPage *self,
                    const GError   *error)
{
  guint failed;
  const char *what;
  g_autofree char *detail = NULL;
  g_autofree char *text = NULL;

  set_busy (self, FALSE);
  if (error == NULL)
    {
      for (guint i = 0; i < N_STEPS; i++)
        set_step (self, i, ROW_DONE);
      gtk_editable_set_text (GTK_EDITABLE (self->invitation_entry), "");
      gtk_editable_set_text (GTK_EDITABLE (self->code_row), "");
      show_error (self, NULL);
      return;
    }

  /* Which step failed follows from the error. */
  switch (error->domain == CPNS_ERROR ? error->code : CPNS_ERROR_INTERNAL)
    {
    case CPNS_ERROR_SERVER_UNREACHABLE:
    case CPNS_ERROR_TIMEOUT:
      failed = STEP_REACH;
      what = _("Server unreachable.");
      break;
    case CPNS_ERROR_TLS_FAILED:
      failed = STEP_IDENTITY;
      what = _("Certificate refused.");
      break;
    case CPNS_ERROR_PIN_MISMATCH:
    case CPNS_ERROR_SERVER_AUTH_FAILED:
      failed = STEP_IDENTITY;
      what = _("Certificate mismatch.");
      break;
    case CPNS_ERROR_UNAUTHORIZED:
      failed = STEP_ENROLL;
      what = _("Wrong or used enrollment code.");
      break;
    default:
      failed = STEP_ENROLL;
      what = _("Enrollment failed.");
      break;
    }
  for (guint i = 0; i < N_STEPS; i++)
    set_step (self, i, i < failed ? ROW_DONE : i == failed ? ROW_FAILED : ROW_PENDING);
  detail = gw_error_text_for_session (error, gw_app_state_get_enrollment_failure (self->state));
  text = g_strdup_printf ("%s %s", what, detail);
  show_error (self, text);
}

static void
gw_first_run_page_dispose (GObject *object)
{
  GwFirstRunPage *self = GW_FIRST_RUN_PAGE (object);

  if (self->state != NULL)
    g_clear_signal_handler (&self->done_id, self->state);
  g_clear_object (&self->state);
  /* Unparent the child before the template drops it. */
  adw_bin_set_child (ADW_BIN (self), NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), GW_TYPE_FIRST_RUN_PAGE);
  G_OBJECT_CLASS (gw_first_run_page_parent_class)->dispose (object);
}

static void
gw_first_run_page_class_init (GwFirstRunPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = gw_first_run_page_dispose;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/cpns/Gateway/gw-first-run-page.ui");
  gtk_widget_class_bind_template_child (widget_class, GwFirstRunPage, invitation_entry);
  gtk_widget_class_bind_template_child (widget_class, GwFirstRunPage, connect_button);
  gtk_widget_class_bind_template_child (widget_class, GwFirstRunPage, error_label);
  gtk_widget_class_bind_template_child (widget_class, GwFirstRunPage, pin_revealer);
  gtk_widget_class_bind_template_child (widget_class, GwFirstRunPage, pin_row);
  gtk_widget_class_bind_template_child (widget_class, GwFirstRunPage, progress_revealer);
  gtk_widget_class_bind_template_child (widget_class, GwFirstRunPage, progress_group);
  gtk_widget_class_bind_template_child (widget_class, GwFirstRunPage, details_button);
  gtk_widget_class_bind_template_child (widget_class, GwFirstRunPage, details_revealer);
  gtk_widget_class_bind_template_child (widget_class, GwFirstRunPage, server_row);
  gtk_widget_class_bind_template_child (widget_class, GwFirstRunPage, user_row);
  gtk_widget_class_bind_template_child (widget_class, GwFirstRunPage, code_row);
  gtk_widget_class_bind_template_child (widget_class, GwFirstRunPage, fingerprint_row);
  gtk_widget_class_bind_template_child (widget_class, GwFirstRunPage, details_connect_button);
  gtk_widget_class_bind_template_callback (widget_class, on_connect_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_entry_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_pin_cancel);
  gtk_widget_class_bind_template_callback (widget_class, on_details_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_details_connect);
  gtk_widget_class_bind_template_callback (widget_class, gw_first_run_page_confirm_pin);
}

static void
gw_first_run_page_init (GwFirstRunPage *self)
{
  const char *titles[] = { _("Reaching server…"), _("Checking server identity…"), _("Enrolling this gateway…") };

  gtk_widget_init_template (GTK_WIDGET (self));

  for (guint i = 0; i < N_STEPS; i++)
    {
      self->step_rows[i] = ADW_ACTION_ROW (adw_action_row_new ());
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->step_rows[i]), titles[i]);
      self->step_spinners[i] = gtk_spinner_new ();
      self->step_icons[i] = GTK_IMAGE (gtk_image_new ());
      adw_action_row_add_prefix (self->step_rows[i], self->step_spinners[i]);
      adw_action_row_add_prefix (self->step_rows[i], GTK_WIDGET (self->step_icons[i]));
      adw_preferences_group_add (self->progress_group, GTK_WIDGET (self->step_rows[i]));
      set_step (self, i, ROW_PENDING);
    }
}

GtkWidget *
gw_first_run_page_new (GwAppState *state)
{
  GwFirstRunPage *self = g_object_new (GW_TYPE_FIRST_RUN_PAGE, NULL);

  g_return_val_if_fail (GW_IS_APP_STATE (state), NULL);

  self->state = g_object_ref (state);
  self->done_id = g_signal_connect_swapped (state, "enrollment-done", G_CALLBACK (on_enrollment_done), self);
  return GTK_WIDGET (self);
}

void
gw_first_run_page_set_invitation (GwFirstRunPage *self,
                                  const char     *invitation)
{
  g_return_if_fail (GW_IS_FIRST_RUN_PAGE (self));
  gtk_editable_set_text (GTK_EDITABLE (self->invitation_entry), invitation ? invitation : "");
}

const char *
gw_first_run_page_get_error_text (GwFirstRunPage *self)
{
  if (!gtk_widget_get_visible (GTK_WIDGET (self->error_label)))
    return NULL;
  return gtk_label_get_label (self->error_label);
}

gboolean
gw_first_run_page_get_busy (GwFirstRunPage *self)
{
  return self->busy;
}

gboolean
gw_first_run_page_get_pin_shown (GwFirstRunPage *self)
{
  return gtk_revealer_get_reveal_child (self->pin_revealer);
}

const char *
gw_first_run_page_get_step_text (GwFirstRunPage *self,
                                 guint           step)
{
  g_return_val_if_fail (GW_IS_FIRST_RUN_PAGE (self), NULL);
  g_return_val_if_fail (step < N_STEPS, NULL);

  return adw_action_row_get_subtitle (self->step_rows[step]);
}
