/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-pne"

#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <glib-unix.h>

#include "cpns.h"
#include "pne-cli.h"
#include "pne-device.h"
#include "pne-exit.h"
#include "pne-output.h"
#include "pne-simulator.h"

static const char commands_help[] =
  "Commands:\n"
  "  pair       pair this device with a gateway (PN steps 2–3); prints the pairing code\n"
  "  connect    connect to the paired gateway (steps 4–5, or resume with PSK) and stay\n"
  "  status     show what this device holds (never a secret)\n"
  "  forget     delete this device's credentials\n"
  "  simulate   run N simulated devices in one process (demo, tests, load)\n"
  "\n"
  "Run “cpns-pne COMMAND --help” for the options of a command.\n";

/* ------------------------------------------------------------------ */
/* Shared state of one run */

typedef struct
{
  GMainLoop    *loop;
  PneDevice    *device;
  GCancellable *cancellable;
  int           exit_code;
  gboolean      once;
  gboolean      interrupted;
  GDataInputStream *stdin_stream;
  gboolean      reconnecting;    /* connect: after a drop, not the first setup */
  guint         reconnect_id;
  guint         reconnect_attempts;
} Run;

static void
run_clear (Run *run)
{
  g_clear_handle_id (&run->reconnect_id, g_source_remove);
  g_clear_object (&run->device);
  g_clear_object (&run->cancellable);
  g_clear_object (&run->stdin_stream);
  g_clear_pointer (&run->loop, g_main_loop_unref);
}

static char *
default_state_dir (void)
{
  return g_build_filename (g_get_user_state_dir (), "cpns-pne", NULL);
}

static void
on_progress (PneDevice  *device,
             const char *step,
             const char *message,
             JsonObject *details,
             gpointer    user_data)
{
  pne_output_step (-1, NULL, step, message, details);
}

static int
usage_error (const char *command,
             const char *format,
             ...) G_GNUC_PRINTF (2, 3);

static int
usage_error (const char *command,
             const char *format,
             ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_printerr ("cpns-pne: %s\n", message);
  g_printerr ("Run “cpns-pne %s --help” for usage.\n", command);
  return PNE_EXIT_USAGE;
}

static GOptionContext *
command_context (const char *command,
                 const char *parameter,
                 const char *summary)
{
  g_autofree char *prgname = g_strdup_printf ("cpns-pne %s", command);
  GOptionContext *context = g_option_context_new (parameter);

  g_set_prgname (prgname);

  g_option_context_set_summary (context, summary);
  g_option_context_set_description (context, pne_exit_codes_help ());
  return context;
}

static gboolean
on_signal (gpointer user_data)
{
  Run *run = user_data;

  run->interrupted = TRUE;
  if (run->reconnect_id != 0)
    {
      /* Waiting to reconnect: nothing to close. */
      g_clear_handle_id (&run->reconnect_id, g_source_remove);
      run->exit_code = PNE_EXIT_INTERRUPTED;
      g_main_loop_quit (run->loop);
    }
  else if (run->device != NULL && pne_device_is_connected (run->device))
    pne_device_disconnect (run->device);
  else
    g_cancellable_cancel (run->cancellable);
  return G_SOURCE_CONTINUE;
}

static gboolean
parse_command (GOptionContext *context,
               int            *argc,
               char         ***argv,
               int            *exit_code)
{
  g_autoptr(GError) error = NULL;

  if (!g_option_context_parse (context, argc, argv, &error))
    {
      g_printerr ("cpns-pne: %s\n", error->message);
      g_printerr ("Run “cpns-pne %s --help” for usage.\n", (*argv)[0]);
      *exit_code = PNE_EXIT_USAGE;
      return FALSE;
    }
  if (*argc > 1)
    {
      g_printerr ("cpns-pne: unexpected argument “%s”\n", (*argv)[1]);
      g_printerr ("Run “cpns-pne %s --help” for usage.\n", (*argv)[0]);
      *exit_code = PNE_EXIT_USAGE;
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_host_port (const char *value,
                 const char *option,
                 int        *exit_code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnectable) address = NULL;

  address = g_network_address_parse (value, 0, &error);
  if (address == NULL || g_network_address_get_port (G_NETWORK_ADDRESS (address)) == 0)
    {
      g_printerr ("cpns-pne: %s “%s” is not HOST:PORT\n", option, value);
      *exit_code = PNE_EXIT_USAGE;
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* pair */

static void
on_answer_read (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Run *run = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  gboolean yes;

  line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result,
                                                    NULL, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (line != NULL)
    g_strstrip (line);
  yes = line != NULL && (g_ascii_strcasecmp (line, "y") == 0
                         || g_ascii_strcasecmp (line, "yes") == 0);
  if (run->device != NULL)
    pne_device_answer_code (run->device, yes);
}

static void
on_pairing_code (PneDevice  *device,
                 const char *code,
                 gpointer    user_data)
{
  Run *run = user_data;
  g_autoptr(GInputStream) in = NULL;

  if (run->stdin_stream == NULL)
    return;   /* --yes */
  /* The question goes to stderr so that stdout stays machine-readable. */
  g_printerr ("Does the gateway show this code (%s)? [y/N] ", code);
  g_data_input_stream_read_line_async (run->stdin_stream, G_PRIORITY_DEFAULT, run->cancellable,
                                       on_answer_read, run);
}

static void
on_pair_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Run *run = user_data;
  g_autoptr(GError) error = NULL;

  if (!pne_device_pair_finish (PNE_DEVICE (source), result, &error))
    {
      run->exit_code = pne_exit_code_for_error (error);
      pne_output_error (-1, NULL, error, run->exit_code);
    }
  else
    {
      const PneCredentials *creds = pne_device_get_credentials (run->device);
      g_autoptr(JsonObject) details = json_object_new ();

      json_object_set_string_member (details, "pne_id", creds->pne_id);
      json_object_set_string_member (details, "pn_id", creds->pn_id);
      json_object_set_string_member (details, "state_dir",
                                     pne_device_get_state_dir (run->device));
      pne_output_step (-1, NULL, "done", "Pairing finished; run “cpns-pne connect” to connect",
                       details);
      run->exit_code = PNE_EXIT_OK;
    }
  g_main_loop_quit (run->loop);
}

static int
command_pair (int    argc,
              char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autofree char *state_dir = NULL;
  g_autofree char *gateway = NULL;
  g_autofree char *name = NULL;
  g_autofree char *type = NULL;
  g_autofree char *manufacturer = NULL;
  g_autofree char *model = NULL;
  g_autofree char *serial = NULL;
  g_auto(GStrv) services = NULL;
  g_auto(GStrv) targets = NULL;
  gboolean discover = FALSE, yes = FALSE, no_multicast = FALSE, json = FALSE;
  int timeout = 120;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) entity = NULL;
  Run run = { 0 };
  int exit_code = PNE_EXIT_OK;
  guint sigint_id, sigterm_id;
  GOptionEntry entries[] = {
    { "gateway", 'g', 0, G_OPTION_ARG_STRING, &gateway, "Pair with the gateway at this address",
      "HOST:PORT" },
    { "discover", 'd', 0, G_OPTION_ARG_NONE, &discover,
      "Find a gateway open for pairing by discovery (default)", NULL },
    { "name", 'n', 0, G_OPTION_ARG_STRING, &name,
      "This device's name (1–64 characters)", "NAME" },
    { "type", 't', 0, G_OPTION_ARG_STRING, &type,
      "sensor, actuator, phone, computer, wearable, speaker, display, camera or other", "TYPE" },
    { "manufacturer", 0, 0, G_OPTION_ARG_STRING, &manufacturer, "Manufacturer", "TEXT" },
    { "model", 0, 0, G_OPTION_ARG_STRING, &model, "Model", "TEXT" },
    { "serial", 0, 0, G_OPTION_ARG_STRING, &serial, "Serial number", "TEXT" },
    { "service", 's', 0, G_OPTION_ARG_STRING_ARRAY, &services,
      "A service this device offers (repeatable)", "NAME:PROTO[:PORT]" },
    { "yes", 'y', 0, G_OPTION_ARG_NONE, &yes,
      "Accept the pairing code without asking (devices without input)", NULL },
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir,
      "Where the credentials are kept (default $XDG_STATE_HOME/cpns-pne)", "DIR" },
    { "discovery-target", 0, 0, G_OPTION_ARG_STRING_ARRAY, &targets,
      "Also send discovery requests to this address (repeatable)", "HOST:PORT" },
    { "no-multicast", 0, 0, G_OPTION_ARG_NONE, &no_multicast,
      "Do not send discovery requests to the multicast group", NULL },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout,
      "Give up discovery after this many seconds (0 = never; default 120)", "SECONDS" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object per step", NULL },
    { NULL }
  };

  context = command_context ("pair", NULL,
                             "Pair this device with a PN gateway: TLS, the 6-digit pairing code, "
                             "then its PNE ID and key (PROTOCOL.md §4.2–4.4).");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!parse_command (context, &argc, &argv, &exit_code))
    return exit_code;

  if (gateway != NULL && discover)
    return usage_error (argv[0], "--gateway and --discover cannot be used together");
  if (name == NULL || type == NULL)
    return usage_error (argv[0], "pair needs --name and --type");
  if (gateway != NULL && !check_host_port (gateway, "--gateway", &exit_code))
    return exit_code;
  for (guint i = 0; targets != NULL && targets[i] != NULL; i++)
    if (!check_host_port (targets[i], "--discovery-target", &exit_code))
      return exit_code;
  if (timeout < 0)
    return usage_error (argv[0], "--timeout must be 0 or more");
  entity = pne_entity_new (name, type, manufacturer, model, serial,
                           (const char * const *) services, &error);
  if (entity == NULL)
    return usage_error (argv[0], "%s", error->message);

  pne_output_set_format (json ? PNE_OUTPUT_JSON : PNE_OUTPUT_TEXT);
  if (state_dir == NULL)
    state_dir = default_state_dir ();

  run.loop = g_main_loop_new (NULL, FALSE);
  run.cancellable = g_cancellable_new ();
  run.device = pne_device_new (state_dir);
  pne_device_set_entity (run.device, entity);
  pne_device_set_gateway_address (run.device, gateway);
  for (guint i = 0; targets != NULL && targets[i] != NULL; i++)
    pne_device_add_discovery_target (run.device, targets[i]);
  pne_device_set_multicast (run.device, !no_multicast);
  {
    PneTimeouts timeouts;

    pne_device_get_timeouts (run.device, &timeouts);
    timeouts.discovery_ms = (guint) MIN (timeout, 86400) * 1000;
    pne_device_set_timeouts (run.device, &timeouts);
  }
  if (!yes)
    {
      g_autoptr(GInputStream) in = g_unix_input_stream_new (STDIN_FILENO, FALSE);

      run.stdin_stream = g_data_input_stream_new (in);
      pne_device_set_confirm_locally (run.device, TRUE);
    }
  g_signal_connect (run.device, "progress", G_CALLBACK (on_progress), &run);
  g_signal_connect (run.device, "pairing-code", G_CALLBACK (on_pairing_code), &run);

  sigint_id = g_unix_signal_add (SIGINT, on_signal, &run);
  sigterm_id = g_unix_signal_add (SIGTERM, on_signal, &run);
  pne_device_pair_async (run.device, run.cancellable, on_pair_done, &run);
  g_main_loop_run (run.loop);
  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);
  g_cancellable_cancel (run.cancellable);

  exit_code = run.exit_code;
  run_clear (&run);
  return exit_code;
}

/* ------------------------------------------------------------------ */
/* connect */

static void on_connect_done (GObject      *source,
                             GAsyncResult *result,
                             gpointer      user_data);

/* A drop that a later attempt may get past (the gateway restarted, the
 * network went away), as opposed to a refusal (revoked, denied, pin). */
static gboolean
is_transient (const GError *error)
{
  if (error->domain == G_IO_ERROR)
    return !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  return g_error_matches (error, CPNS_ERROR, CPNS_ERROR_CLOSED)
         || g_error_matches (error, CPNS_ERROR, CPNS_ERROR_TLS_FAILED)
         || g_error_matches (error, CPNS_ERROR, CPNS_ERROR_TIMEOUT)
         || g_error_matches (error, CPNS_ERROR, CPNS_ERROR_SERVER_UNREACHABLE)
         || g_error_matches (error, CPNS_ERROR, CPNS_ERROR_INTERNAL);
}

static gboolean
reconnect_now (gpointer user_data)
{
  Run *run = user_data;

  run->reconnect_id = 0;
  pne_device_connect_async (run->device, run->cancellable, on_connect_done, run);
  return G_SOURCE_REMOVE;
}

/* Staying connected (§4.1): after a drop, try again with exponential
 * back-off (1 s doubling to 60 s, with jitter) until Ctrl-C. */
static void
schedule_reconnect (Run          *run,
                    const GError *error)
{
  guint delay_ms = 1000u << MIN (run->reconnect_attempts, 6);
  g_autoptr(JsonObject) details = json_object_new ();
  g_autofree char *message = NULL;

  delay_ms = MIN (delay_ms, 60000);
  delay_ms = delay_ms / 2 + g_random_int_range (0, (gint32) delay_ms / 2 + 1);
  run->reconnect_attempts++;
  run->reconnecting = TRUE;
  json_object_set_int_member (details, "retry_in_ms", delay_ms);
  message = g_strdup_printf ("%s; reconnecting in %.1f s", error->message, delay_ms / 1000.0);
  pne_output_step (-1, NULL, "reconnecting", message, details);
  run->reconnect_id = g_timeout_add (delay_ms, reconnect_now, run);
}

static void
on_disconnected (PneDevice    *device,
                 const GError *error,
                 gpointer      user_data)
{
  Run *run = user_data;

  if (error != NULL && !run->once && !run->interrupted && is_transient (error))
    {
      schedule_reconnect (run, error);
      return;
    }
  if (error != NULL)
    {
      run->exit_code = pne_exit_code_for_error (error);
      pne_output_error (-1, NULL, error, run->exit_code);
    }
  else
    {
      pne_output_step (-1, NULL, "disconnected", "Disconnected", NULL);
      run->exit_code = PNE_EXIT_OK;
    }
  g_main_loop_quit (run->loop);
}

static void
on_connect_done (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Run *run = user_data;
  g_autoptr(GError) error = NULL;

  if (!pne_device_connect_finish (PNE_DEVICE (source), result, &error))
    {
      /* The first setup reports its failure; a reconnection keeps trying. */
      if (run->reconnecting && !run->interrupted && is_transient (error))
        {
          schedule_reconnect (run, error);
          return;
        }
      run->exit_code = pne_exit_code_for_error (error);
      pne_output_error (-1, NULL, error, run->exit_code);
      g_main_loop_quit (run->loop);
      return;
    }
  run->reconnect_attempts = 0;
  if (run->once || run->interrupted)
    pne_device_disconnect (run->device);
}

static int
command_connect (int    argc,
                 char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autofree char *state_dir = NULL;
  g_autofree char *gateway = NULL;
  gboolean once = FALSE, json = FALSE, no_resume = FALSE;
  Run run = { 0 };
  int exit_code = PNE_EXIT_OK;
  guint sigint_id, sigterm_id;
  GOptionEntry entries[] = {
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir,
      "Where the credentials are kept (default $XDG_STATE_HOME/cpns-pne)", "DIR" },
    { "no-resume", 0, 0, G_OPTION_ARG_NONE, &no_resume,
      "Always run a full connection setup, even with a live session (measurements)", NULL },
    { "once", 0, 0, G_OPTION_ARG_NONE, &once,
      "Disconnect (bye) as soon as the connection is set up", NULL },
    { "gateway", 'g', 0, G_OPTION_ARG_STRING, &gateway,
      "Connect to this address instead of the one stored at pairing", "HOST:PORT" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object per step", NULL },
    { NULL }
  };

  context = command_context ("connect", NULL,
                             "Connect to the paired gateway: resume the stored session with PSK "
                             "or run a full connection setup (PROTOCOL.md §4.5–4.6), then stay "
                             "connected until Ctrl-C, bye or revocation (reconnecting with "
                             "back-off when the connection drops).");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!parse_command (context, &argc, &argv, &exit_code))
    return exit_code;
  if (gateway != NULL && !check_host_port (gateway, "--gateway", &exit_code))
    return exit_code;

  pne_output_set_format (json ? PNE_OUTPUT_JSON : PNE_OUTPUT_TEXT);
  if (state_dir == NULL)
    state_dir = default_state_dir ();

  run.loop = g_main_loop_new (NULL, FALSE);
  run.cancellable = g_cancellable_new ();
  run.once = once;
  run.device = pne_device_new (state_dir);
  pne_device_set_gateway_address (run.device, gateway);
  pne_device_set_resume (run.device, !no_resume);
  g_signal_connect (run.device, "progress", G_CALLBACK (on_progress), &run);
  g_signal_connect (run.device, "disconnected", G_CALLBACK (on_disconnected), &run);

  sigint_id = g_unix_signal_add (SIGINT, on_signal, &run);
  sigterm_id = g_unix_signal_add (SIGTERM, on_signal, &run);
  pne_device_connect_async (run.device, run.cancellable, on_connect_done, &run);
  g_main_loop_run (run.loop);
  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);

  exit_code = run.exit_code;
  run_clear (&run);
  return exit_code;
}

/* ------------------------------------------------------------------ */
/* status, forget */

static int
command_status (int    argc,
                char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autofree char *state_dir = NULL;
  g_autoptr(PneCredentials) creds = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) object = json_object_new ();
  g_autofree char *expires_str = NULL;
  gboolean json = FALSE;
  gboolean live;
  int exit_code = PNE_EXIT_OK;
  GOptionEntry entries[] = {
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir,
      "Where the credentials are kept (default $XDG_STATE_HOME/cpns-pne)", "DIR" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object", NULL },
    { NULL }
  };

  context = command_context ("status", NULL,
                             "Show this device's IDs, its gateway and its session (never a key).");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!parse_command (context, &argc, &argv, &exit_code))
    return exit_code;
  pne_output_set_format (json ? PNE_OUTPUT_JSON : PNE_OUTPUT_TEXT);
  if (state_dir == NULL)
    state_dir = default_state_dir ();

  creds = pne_credentials_load (state_dir, &error);
  if (creds == NULL)
    {
      exit_code = pne_exit_code_for_error (error);
      if (json)
        {
          json_object_set_boolean_member (object, "paired", FALSE);
          json_object_set_string_member (object, "state_dir", state_dir);
          json_object_set_string_member (object, "message", error->message);
          json_object_set_int_member (object, "exit_code", exit_code);
          pne_output_object (object);
        }
      g_printerr ("cpns-pne: %s\n", error->message);
      return exit_code;
    }

  live = pne_credentials_has_live_session (creds, g_get_real_time () / G_USEC_PER_SEC);
  if (creds->session_id != NULL)
    {
      g_autoptr(GDateTime) expires = g_date_time_new_from_unix_utc (creds->session_expires);

      expires_str = expires != NULL ? g_date_time_format_iso8601 (expires) : NULL;
    }
  if (json)
    {
      json_object_set_boolean_member (object, "paired", TRUE);
      json_object_set_string_member (object, "state_dir", state_dir);
      json_object_set_string_member (object, "name", creds->name);
      json_object_set_string_member (object, "entity_type", creds->entity_type);
      json_object_set_string_member (object, "pne_id", creds->pne_id);
      json_object_set_string_member (object, "pn_id", creds->pn_id);
      json_object_set_string_member (object, "key_id", creds->key_id);
      json_object_set_string_member (object, "gateway_id", creds->gateway_id);
      if (creds->gateway_name != NULL)
        json_object_set_string_member (object, "gateway_name", creds->gateway_name);
      json_object_set_string_member (object, "gateway_address", creds->gateway_address);
      json_object_set_string_member (object, "cert_sha256", creds->gateway_sha256);
      if (creds->session_id != NULL)
        {
          json_object_set_string_member (object, "session_id", creds->session_id);
          json_object_set_string_member (object, "session_expires", expires_str);
        }
      json_object_set_boolean_member (object, "session_live", live);
      pne_output_object (object);
      return PNE_EXIT_OK;
    }

  printf ("Paired:        yes (%s)\n", state_dir);
  printf ("Device:        %s (%s)\n", creds->name, creds->entity_type);
  printf ("PNE ID:        %s\n", creds->pne_id);
  printf ("PN ID:         %s\n", creds->pn_id);
  printf ("Key ID:        %s\n", creds->key_id);
  printf ("Gateway:       %s%s%s%s at %s\n", creds->gateway_name != NULL ? creds->gateway_name : "",
          creds->gateway_name != NULL ? " (" : "", creds->gateway_id,
          creds->gateway_name != NULL ? ")" : "", creds->gateway_address);
  printf ("Certificate:   sha256 %s (pinned)\n", creds->gateway_sha256);
  if (creds->session_id != NULL)
    printf ("Session:       %s, %s %s\n", creds->session_id,
            live ? "resumable until" : "expired at", expires_str);
  else
    printf ("Session:       none\n");
  return PNE_EXIT_OK;
}

static int
command_forget (int    argc,
                char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autofree char *state_dir = NULL;
  g_autoptr(GError) error = NULL;
  int exit_code = PNE_EXIT_OK;
  GOptionEntry entries[] = {
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir,
      "Where the credentials are kept (default $XDG_STATE_HOME/cpns-pne)", "DIR" },
    { NULL }
  };

  context = command_context ("forget", NULL,
                             "Delete this device's credentials (IDs, key, pin and session). "
                             "The gateway still lists the device until it is removed there.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!parse_command (context, &argc, &argv, &exit_code))
    return exit_code;
  if (state_dir == NULL)
    state_dir = default_state_dir ();

  if (!pne_credentials_delete (state_dir, &error))
    {
      g_printerr ("cpns-pne: %s\n", error->message);
      return PNE_EXIT_INTERNAL;
    }
  printf ("Credentials in %s deleted\n", state_dir);
  return PNE_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* simulate */

static int
command_simulate (int    argc,
                  char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(PneSimulator) simulator = NULL;
  g_autofree char *state_dir = NULL;
  g_autofree char *gateway = NULL;
  g_autofree char *name_prefix = NULL;
  g_auto(GStrv) targets = NULL;
  gboolean discover = FALSE, do_connect = FALSE, stay = FALSE, announce = FALSE;
  gboolean no_multicast = FALSE, json = FALSE, no_resume = FALSE;
  int count = 0, concurrency = 16;
  int exit_code = PNE_EXIT_OK;
  GOptionEntry entries[] = {
    { "count", 'c', 0, G_OPTION_ARG_INT, &count, "How many devices (1–100000)", "N" },
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir,
      "A directory holding one state directory per device "
      "(default $XDG_STATE_HOME/cpns-pne/simulated)", "DIR" },
    { "gateway", 'g', 0, G_OPTION_ARG_STRING, &gateway, "Pair with the gateway at this address",
      "HOST:PORT" },
    { "discover", 'd', 0, G_OPTION_ARG_NONE, &discover,
      "Find a gateway open for pairing by discovery (default)", NULL },
    { "name-prefix", 0, 0, G_OPTION_ARG_STRING, &name_prefix, "Put this before every device name",
      "TEXT" },
    { "connect", 0, 0, G_OPTION_ARG_NONE, &do_connect,
      "After pairing, connect each device (steps 4–5)", NULL },
    { "stay", 0, 0, G_OPTION_ARG_NONE, &stay, "Stay connected until Ctrl-C (implies --connect)",
      NULL },
    { "announce", 0, 0, G_OPTION_ARG_NONE, &announce,
      "Announce by discovery and wait, without a time limit, until the gateway opens "
      "pairing (demo)", NULL },
    { "no-resume", 0, 0, G_OPTION_ARG_NONE, &no_resume,
      "Never resume a stored session: always a full connection setup (measurements)", NULL },
    { "concurrency", 0, 0, G_OPTION_ARG_INT, &concurrency,
      "Connection attempts in flight at once (default 16)", "N" },
    { "discovery-target", 0, 0, G_OPTION_ARG_STRING_ARRAY, &targets,
      "Also send discovery requests to this address (repeatable)", "HOST:PORT" },
    { "no-multicast", 0, 0, G_OPTION_ARG_NONE, &no_multicast,
      "Do not send discovery requests to the multicast group", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object per step and per device",
      NULL },
    { NULL }
  };

  context = command_context ("simulate", NULL,
                             "Run N independent simulated devices in this process, each with its "
                             "own state directory: pair them (auto-confirming the code), connect "
                             "them, print their progress and a summary.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!parse_command (context, &argc, &argv, &exit_code))
    return exit_code;
  if (count < 1 || count > 100000)
    return usage_error (argv[0], "simulate needs --count N with 1 ≤ N ≤ 100000");
  if (gateway != NULL && (discover || announce))
    return usage_error (argv[0], "--gateway cannot be used with --discover or --announce");
  if (concurrency < 1 || concurrency > 4096)
    return usage_error (argv[0], "--concurrency must be 1–4096");
  if (gateway != NULL && !check_host_port (gateway, "--gateway", &exit_code))
    return exit_code;
  for (guint i = 0; targets != NULL && targets[i] != NULL; i++)
    if (!check_host_port (targets[i], "--discovery-target", &exit_code))
      return exit_code;
  if (name_prefix != NULL && g_utf8_strlen (name_prefix, -1) > 32)
    return usage_error (argv[0], "--name-prefix may have at most 32 characters");

  pne_output_set_format (json ? PNE_OUTPUT_JSON : PNE_OUTPUT_TEXT);
  if (state_dir == NULL)
    state_dir = g_build_filename (g_get_user_state_dir (), "cpns-pne", "simulated", NULL);

  simulator = pne_simulator_new (state_dir, (guint) count);
  pne_simulator_set_gateway_address (simulator, gateway);
  for (guint i = 0; targets != NULL && targets[i] != NULL; i++)
    pne_simulator_add_discovery_target (simulator, targets[i]);
  pne_simulator_set_multicast (simulator, !no_multicast);
  pne_simulator_set_name_prefix (simulator, name_prefix);
  pne_simulator_set_connect (simulator, do_connect || stay, stay);
  pne_simulator_set_announce (simulator, announce);
  pne_simulator_set_concurrency (simulator, (guint) concurrency);
  pne_simulator_set_resume (simulator, !no_resume);
  return pne_simulator_run (simulator);
}

/* ------------------------------------------------------------------ */

static void
print_main_help (void)
{
  printf ("Usage:\n  cpns-pne COMMAND [OPTION…]\n\n"
          "A PNE device agent (OMA CPNS personal network element) and an N-device simulator.\n\n"
          "%s\n"
          "Options:\n"
          "  -h, --help     Show this help\n"
          "  --version      Print the version\n\n"
          "%s", commands_help, pne_exit_codes_help ());
}

int
pne_cli_main (int    argc,
              char **argv)
{
  const char *command;

  setlocale (LC_ALL, "");
  /* GnuTLS writes every TLS secret to the file this names: never. */
  g_unsetenv ("SSLKEYLOGFILE");

  if (argc < 2)
    {
      g_printerr ("cpns-pne: missing command\n");
      g_printerr ("%s", commands_help);
      return PNE_EXIT_USAGE;
    }
  command = argv[1];
  if (g_str_equal (command, "--help") || g_str_equal (command, "-h")
      || g_str_equal (command, "help") || g_str_equal (command, "--help-all"))
    {
      print_main_help ();
      return PNE_EXIT_OK;
    }
  if (g_str_equal (command, "--version") || g_str_equal (command, "version"))
    {
      printf ("cpns-pne %s\n", PACKAGE_VERSION);
      return PNE_EXIT_OK;
    }

  /* From here argv[0] is the command (for GOption's messages). */
  if (g_str_equal (command, "pair"))
    return command_pair (argc - 1, argv + 1);
  if (g_str_equal (command, "connect"))
    return command_connect (argc - 1, argv + 1);
  if (g_str_equal (command, "status"))
    return command_status (argc - 1, argv + 1);
  if (g_str_equal (command, "forget"))
    return command_forget (argc - 1, argv + 1);
  if (g_str_equal (command, "simulate"))
    return command_simulate (argc - 1, argv + 1);

  g_printerr ("cpns-pne: unknown command “%s”\n", command);
  g_printerr ("%s", commands_help);
  return PNE_EXIT_USAGE;
}
