/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-gateway"

#include "config.h"

#include <glib/gi18n.h>

#include "cpns-crypto.h"
#include "cpns-invitation.h"

#include "gw-application.h"
#include "gw-format.h"
#include "gw-preferences-window.h"
#include "gw-window.h"

struct _GwApplication
{
  AdwApplication  parent_instance;

  GwAppState     *state;
  GSettings      *settings;
  GwEngine       *engine;
  GwEngineConfig *config;
  gboolean        engine_enabled;
  gboolean        held;
  char           *invitation;
  char           *enroll_invitation;  /* --enroll: a secret, enrolled without asking */
  char           *data_dir;
  int             listen_port;
  GError         *start_error;
  GQueue          events;          /* from the engine, not handled yet */
  guint           events_idle;
};

G_DEFINE_FINAL_TYPE (GwApplication, gw_application, ADW_TYPE_APPLICATION)

static const GOptionEntry options[] = {
  { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, NULL,
    N_("Keep the gateway’s registry in DIR"), N_("DIR") },
  { "listen-port", 0, 0, G_OPTION_ARG_INT, NULL,
    N_("Listen for devices on PORT (0: any free port)"), N_("PORT") },
  { "enroll", 0, 0, G_OPTION_ARG_STRING, NULL,
    N_("Enroll at once with this cpns://enroll invitation, trusting its certificate fingerprint (other users can read it in the process list: prefer --enroll-file)"),
    N_("INVITATION") },
  { "enroll-file", 0, 0, G_OPTION_ARG_FILENAME, NULL,
    N_("Like --enroll, with the invitation read from the first line of PATH (“-”: standard input)"),
    N_("PATH") },
  { NULL }
};

/* ---- engine ------------------------------------------------------------ */

/* Engine events are handled from an idle below GTK's redraw priority, a
 * few milliseconds' worth at a time: a burst (dozens of devices pairing
 * and connecting at once) handled as it arrived kept the main loop busy at
 * default priority for seconds, and the window painted nothing meanwhile
 * (its toast animations stalled too, and libadwaita 1.2 then used a freed
 * toast when one timed out before its show animation ended). */
#define EVENT_BUDGET_US 8000

static gboolean
handle_events (gpointer user_data)
{
  GwApplication *self = user_data;
  gint64 end = g_get_monotonic_time () + EVENT_BUDGET_US;
  GwEvent *event;

  while (g_get_monotonic_time () < end && (event = g_queue_pop_head (&self->events)) != NULL)
    {
      gw_app_state_handle_event (self->state, event);
      gw_event_unref (event);
    }
  if (!g_queue_is_empty (&self->events))
    return G_SOURCE_CONTINUE;
  self->events_idle = 0;
  return G_SOURCE_REMOVE;
}

static void
on_engine_event (GwEvent  *event,
                 gpointer  user_data)
{
  GwApplication *self = user_data;

  g_queue_push_tail (&self->events, gw_event_ref (event));
  if (self->events_idle == 0)
    self->events_idle = g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, handle_events, self, NULL);
}

static void
drop_events (GwApplication *self)
{
  g_clear_handle_id (&self->events_idle, g_source_remove);
  g_queue_clear_full (&self->events, (GDestroyNotify) gw_event_unref);
}

static void
on_command (GwApplication *self,
            GwCommand     *command)
{
  if (self->engine != NULL)
    gw_engine_send (self->engine, gw_command_ref (command));
  else
    g_debug ("No engine: command %d not sent", command->type);
}

static void
send_setting (GwApplication *self,
              const char    *key)
{
  GwCommand *cmd = NULL;

  if (g_strcmp0 (key, "key-assignment-mode") == 0)
    {
      cmd = gw_command_new (GW_COMMAND_SET_KEY_MODE);
      cmd->key_mode = g_settings_get_string (self->settings, key);
    }
  else if (g_strcmp0 (key, "pairing-window-seconds") == 0)
    {
      cmd = gw_command_new (GW_COMMAND_SET_PAIRING_WINDOW_LENGTH);
      cmd->seconds = g_settings_get_uint (self->settings, key);
    }
  else if (g_strcmp0 (key, "discovery-enabled") == 0)
    {
      cmd = gw_command_new (GW_COMMAND_SET_DISCOVERY);
      cmd->flag = g_settings_get_boolean (self->settings, key);
    }
  else if (g_strcmp0 (key, "run-in-background") == 0)
    {
      gboolean hold = g_settings_get_boolean (self->settings, key);

      if (hold && !self->held)
        g_application_hold (G_APPLICATION (self));
      else if (!hold && self->held)
        g_application_release (G_APPLICATION (self));
      self->held = hold;
    }
  if (cmd != NULL)
    gw_app_state_send (self->state, cmd);
}

static void
start_engine (GwApplication *self)
{
  GwEngineConfig *config = self->config;

  if (config == NULL)
    {
      config = self->config = gw_engine_config_new ();
      g_autoptr(GVariant) port = g_settings_get_value (self->settings, "listen-port");

      config->listen_port = g_variant_get_uint16 (port);
      config->discovery_enabled = g_settings_get_boolean (self->settings, "discovery-enabled");
      config->pairing_window_s = g_settings_get_uint (self->settings, "pairing-window-seconds");
      g_free (config->key_mode);
      config->key_mode = g_settings_get_string (self->settings, "key-assignment-mode");
    }
  if (self->data_dir != NULL)
    {
      g_free (config->data_dir);
      config->data_dir = g_strdup (self->data_dir);
    }
  if (self->listen_port >= 0)
    config->listen_port = (guint16) self->listen_port;

  self->engine = gw_engine_new (config);
  if (!gw_engine_start (self->engine, on_engine_event, self, &self->start_error))
    {
      g_debug ("Engine did not start: %s", self->start_error->message);
      g_clear_pointer (&self->engine, gw_engine_free);
    }
}

/* ---- notifications ----------------------------------------------------- */

static char *
notification_id (guint64 prompt_id)
{
  return g_strdup_printf ("prompt-%" G_GUINT64_FORMAT, prompt_id);
}

static void
on_prompt_raised (GwApplication *self,
                  GwPromptItem  *prompt)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));
  const GwPromptInfo *info = gw_prompt_item_get_info (prompt);
  g_autoptr(GNotification) n = NULL;
  g_autofree char *id = notification_id (info->id);
  g_autofree char *body = NULL;
  guint64 pid = info->id;

  if (!g_settings_get_boolean (self->settings, "notifications-enabled"))
    return;
  if (window != NULL && gtk_window_is_active (window))
    return;

  n = g_notification_new (gw_prompt_item_get_title (prompt));
  if (info->kind == GW_PROMPT_PAIRING_CODE)
    {
      g_autofree char *code = gw_format_code (info->code);
      /* Translators: %s is the 6-digit code */
      body = g_strdup_printf (_("Confirm only if the device shows %s."), code);
      g_notification_add_button_with_target (n, _("Reject"), "app.answer-prompt", "(ts)", pid, "reject");
      g_notification_add_button_with_target (n, _("Pair"), "app.answer-prompt", "(ts)", pid, "confirm");
    }
  else
    {
      body = g_strdup (info->rule_id ? _("Your server’s policy asks you to decide.")
                                     : _("Your server asks you because no rule covers this device."));
      g_notification_add_button_with_target (n, _("Deny"), "app.answer-prompt", "(ts)", pid, "deny");
      g_notification_add_button_with_target (n, _("Allow Once"), "app.answer-prompt", "(ts)", pid, "allow-once");
      g_notification_add_button_with_target (n, _("Always Allow"), "app.answer-prompt", "(ts)", pid, "allow-always");
    }
  g_notification_set_body (n, body);
  g_notification_set_priority (n, G_NOTIFICATION_PRIORITY_HIGH);
  g_notification_set_default_action_and_target (n, "app.show-prompt", "t", pid);
  g_application_send_notification (G_APPLICATION (self), id, n);
}

static void
on_prompt_withdrawn (GwApplication *self,
                     GwPromptItem  *prompt)
{
  g_autofree char *id = notification_id (gw_prompt_item_get_id (prompt));

  g_application_withdraw_notification (G_APPLICATION (self), id);
}

/* ---- actions ----------------------------------------------------------- */

static GtkWindow *
ensure_window (GwApplication *self)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));

  if (window == NULL)
    {
      window = GTK_WINDOW (gw_window_new (GTK_APPLICATION (self), self->state));
      g_settings_bind (self->settings, "window-width", window, "default-width", G_SETTINGS_BIND_DEFAULT);
      g_settings_bind (self->settings, "window-height", window, "default-height", G_SETTINGS_BIND_DEFAULT);
      g_settings_bind (self->settings, "window-maximized", window, "maximized", G_SETTINGS_BIND_DEFAULT);
    }
  return window;
}

static void
quit_action (GSimpleAction *action,
             GVariant      *param,
             gpointer       data)
{
  GwApplication *self = data;
  GList *windows = g_list_copy (gtk_application_get_windows (GTK_APPLICATION (self)));

  /* Destroying the windows first lets their dialogs go cleanly. */
  for (GList *l = windows; l != NULL; l = l->next)
    gtk_window_destroy (l->data);
  g_list_free (windows);
  g_application_quit (G_APPLICATION (self));
}

static void
about_action (GSimpleAction *action,
              GVariant      *param,
              gpointer       data)
{
  GwApplication *self = data;
  static const char *developers[] = { N_("The PN Gateway developers"), NULL };
  GtkWidget *about;

  about = g_object_new (ADW_TYPE_ABOUT_WINDOW,
                        "transient-for", gtk_application_get_active_window (GTK_APPLICATION (self)),
                        "application-name", _("PN Gateway"),
                        "application-icon", APP_ID,
                        "version", PACKAGE_VERSION,
                        "developer-name", _(developers[0]),
                        "comments", _("Make this computer the gateway of your personal network: pair devices, watch them get their ID and key, and decide who connects."),
                        "license-type", GTK_LICENSE_GPL_3_0,
                        "translator-credits", _("translator-credits"),
                        NULL);
  gtk_window_present (GTK_WINDOW (about));
}

static void
preferences_action (GSimpleAction *action,
                    GVariant      *param,
                    gpointer       data)
{
  GwApplication *self = data;
  GtkWidget *prefs;

  prefs = gw_preferences_window_new (ensure_window (self), self->settings, self->state);
  gtk_window_present (GTK_WINDOW (prefs));
}

static void
help_action (GSimpleAction *action,
             GVariant      *param,
             gpointer       data)
{
  GwApplication *self = data;

  gtk_show_uri (gtk_application_get_active_window (GTK_APPLICATION (self)),
                "help:cpns-gateway", GDK_CURRENT_TIME);
}

static void
answer_prompt_action (GSimpleAction *action,
                      GVariant      *param,
                      gpointer       data)
{
  GwApplication *self = data;
  guint64 id;
  const char *answer;
  GwPromptAnswer a;

  g_variant_get (param, "(t&s)", &id, &answer);
  if (g_strcmp0 (answer, "confirm") == 0)
    a = GW_ANSWER_CONFIRM;
  else if (g_strcmp0 (answer, "reject") == 0)
    a = GW_ANSWER_REJECT;
  else if (g_strcmp0 (answer, "allow-once") == 0)
    a = GW_ANSWER_ALLOW_ONCE;
  else if (g_strcmp0 (answer, "allow-always") == 0)
    a = GW_ANSWER_ALLOW_ALWAYS;
  else
    a = GW_ANSWER_DENY;
  gw_app_state_answer_prompt (self->state, id, a);
}

static void
show_prompt_action (GSimpleAction *action,
                    GVariant      *param,
                    gpointer       data)
{
  GwApplication *self = data;
  GtkWindow *window = ensure_window (self);
  GwPromptItem *prompt = gw_app_state_lookup_prompt (self->state, g_variant_get_uint64 (param));

  gtk_window_present (window);
  if (prompt != NULL)
    gw_window_review_prompt (GW_WINDOW (window), prompt);
}

static const GActionEntry app_actions[] = {
  { "quit", quit_action },
  { "about", about_action },
  { "preferences", preferences_action },
  { "help", help_action },
  { "answer-prompt", answer_prompt_action, "(ts)" },
  { "show-prompt", show_prompt_action, "t" },
};

/* ---- GApplication ------------------------------------------------------ */

static int
gw_application_handle_local_options (GApplication *app,
                                     GVariantDict *opts)
{
  GwApplication *self = GW_APPLICATION (app);
  int port;

  g_autofree char *enroll_file = NULL;

  g_variant_dict_lookup (opts, "data-dir", "^ay", &self->data_dir);
  if (g_variant_dict_lookup (opts, "enroll", "s", &self->enroll_invitation))
    g_variant_dict_remove (opts, "enroll");
  if (g_variant_dict_lookup (opts, "enroll-file", "^ay", &enroll_file))
    {
      g_autoptr(GError) error = NULL;

      g_variant_dict_remove (opts, "enroll-file");
      if (self->enroll_invitation != NULL)
        {
          g_printerr ("%s\n", _("Use either --enroll or --enroll-file, not both."));
          return 2;
        }
      self->enroll_invitation = cpns_invitation_read_file (enroll_file, &error);
      if (self->enroll_invitation == NULL)
        {
          g_printerr ("cpns-gateway: --enroll-file: %s\n", error->message);
          return 2;
        }
    }
  if (g_variant_dict_lookup (opts, "listen-port", "i", &port))
    self->listen_port = CLAMP (port, 0, 65535);
  return -1;
}

static void
gw_application_startup (GApplication *app)
{
  GwApplication *self = GW_APPLICATION (app);
  static const char *quit_accels[] = { "<Primary>q", NULL };
  static const char *prefs_accels[] = { "<Primary>comma", NULL };
  static const char *help_accels[] = { "F1", NULL };
  static const char *search_accels[] = { "<Primary>f", NULL };
  static const char *shortcuts_accels[] = { "<Primary>question", NULL };
  static const char *close_accels[] = { "<Primary>w", NULL };

  G_APPLICATION_CLASS (gw_application_parent_class)->startup (app);

  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions, G_N_ELEMENTS (app_actions), self);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.preferences", prefs_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.help", help_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.search", search_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.show-help-overlay", shortcuts_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "window.close", close_accels);

  self->settings = g_settings_new (APP_ID);
  g_signal_connect_object (self->settings, "changed", G_CALLBACK (send_setting), self, G_CONNECT_SWAPPED);
  send_setting (self, "run-in-background");

  g_signal_connect_object (self->state, "command", G_CALLBACK (on_command), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->state, "prompt-raised", G_CALLBACK (on_prompt_raised), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->state, "prompt-withdrawn", G_CALLBACK (on_prompt_withdrawn), self, G_CONNECT_SWAPPED);

  if (self->engine_enabled)
    start_engine (self);
}

static void
gw_application_activate (GApplication *app)
{
  GwApplication *self = GW_APPLICATION (app);
  GtkWindow *window = ensure_window (self);

  if (self->invitation != NULL)
    {
      gw_window_set_invitation (GW_WINDOW (window), self->invitation);
      g_clear_pointer (&self->invitation, g_free);
    }
  if (self->enroll_invitation != NULL)
    {
      gw_window_enroll (GW_WINDOW (window), self->enroll_invitation);
      g_clear_pointer (&self->enroll_invitation, cpns_free_secret_string);
    }
  gtk_window_present (window);
  if (self->start_error != NULL)
    {
      g_autofree char *text = g_strdup_printf (_("The gateway could not start: %s"), self->start_error->message);
      gw_window_add_toast (GW_WINDOW (window), text);
      g_clear_error (&self->start_error);
    }
}

static void
gw_application_open (GApplication  *app,
                     GFile        **files,
                     int            n_files,
                     const char    *hint)
{
  GwApplication *self = GW_APPLICATION (app);

  for (int i = 0; i < n_files; i++)
    {
      g_autofree char *uri = g_file_get_uri (files[i]);

      if (g_str_has_prefix (uri, "cpns://enroll"))
        {
          g_free (self->invitation);
          self->invitation = g_steal_pointer (&uri);
        }
    }
  g_application_activate (app);
}

static void
gw_application_shutdown (GApplication *app)
{
  GwApplication *self = GW_APPLICATION (app);

  if (self->engine != NULL)
    {
      gw_engine_stop (self->engine);
      g_clear_pointer (&self->engine, gw_engine_free);
    }
  drop_events (self);
  G_APPLICATION_CLASS (gw_application_parent_class)->shutdown (app);
}

static void
gw_application_finalize (GObject *object)
{
  GwApplication *self = GW_APPLICATION (object);

  /* Registered but never run (tests): shutdown did not stop the engine. */
  if (self->engine != NULL)
    {
      gw_engine_stop (self->engine);
      g_clear_pointer (&self->engine, gw_engine_free);
    }
  drop_events (self);

  g_clear_object (&self->state);
  g_clear_object (&self->settings);
  g_clear_pointer (&self->config, gw_engine_config_free);
  g_clear_pointer (&self->invitation, g_free);
  g_clear_pointer (&self->enroll_invitation, cpns_free_secret_string);
  g_clear_pointer (&self->data_dir, g_free);
  g_clear_error (&self->start_error);
  G_OBJECT_CLASS (gw_application_parent_class)->finalize (object);
}

static void
gw_application_class_init (GwApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->finalize = gw_application_finalize;
  app_class->handle_local_options = gw_application_handle_local_options;
  app_class->startup = gw_application_startup;
  app_class->activate = gw_application_activate;
  app_class->open = gw_application_open;
  app_class->shutdown = gw_application_shutdown;
}

static void
gw_application_init (GwApplication *self)
{
  self->state = gw_app_state_new ();
  self->engine_enabled = TRUE;
  self->listen_port = -1;
  g_application_add_main_option_entries (G_APPLICATION (self), options);
}

GwApplication *
gw_application_new (void)
{
  return g_object_new (GW_TYPE_APPLICATION,
                       "application-id", APP_ID,
                       "flags", G_APPLICATION_HANDLES_OPEN,
                       "resource-base-path", "/io/github/cpns/Gateway",
                       NULL);
}

void
gw_application_set_engine_enabled (GwApplication *self,
                                   gboolean       enabled)
{
  g_return_if_fail (GW_IS_APPLICATION (self));
  self->engine_enabled = enabled;
}

void
gw_application_set_engine_config (GwApplication        *self,
                                  const GwEngineConfig *config)
{
  GwEngineConfig *c;

  g_return_if_fail (GW_IS_APPLICATION (self));
  g_return_if_fail (config != NULL);

  c = gw_engine_config_new ();
  g_free (c->data_dir);
  c->data_dir = g_strdup (config->data_dir);
  g_free (c->listen_address);
  c->listen_address = g_strdup (config->listen_address);
  c->listen_port = config->listen_port;
  c->discovery_enabled = config->discovery_enabled;
  c->discovery_port = config->discovery_port;
  g_free (c->discovery_group);
  c->discovery_group = g_strdup (config->discovery_group);
  g_strfreev (c->discovery_targets);
  c->discovery_targets = g_strdupv (config->discovery_targets);
  g_free (c->key_mode);
  c->key_mode = g_strdup (config->key_mode);
  c->pairing_window_s = config->pairing_window_s;
  g_free (c->gateway_name);
  c->gateway_name = g_strdup (config->gateway_name);
  c->approval_timeout_s = config->approval_timeout_s;
  c->heartbeat_s = config->heartbeat_s;
  c->require_keyring = config->require_keyring;
  g_clear_pointer (&self->config, gw_engine_config_free);
  self->config = c;
}

GwAppState *gw_application_get_state (GwApplication *self) { return self->state; }
GwEngine *gw_application_get_engine (GwApplication *self) { return self->engine; }

GtkWindow *
gw_application_get_main_window (GwApplication *self)
{
  g_return_val_if_fail (GW_IS_APPLICATION (self), NULL);
  return ensure_window (self);
}
