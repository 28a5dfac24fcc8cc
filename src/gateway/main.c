/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-gatewayd"

#include "config.h"

#include <locale.h>
#include <stdio.h>

#include <glib.h>
#include <glib-unix.h>
#include <glib/gi18n.h>
#include <gio/gunixinputstream.h>

#include "cpns-crypto.h"
#include "cpns-invitation.h"
#include "gw-engine.h"

/* Exit codes. */
enum
{
  EXIT_OK = 0,
  EXIT_FAILURE_GENERAL = 1,
  EXIT_USAGE = 2,
  EXIT_ENROLLMENT = 3,
  EXIT_START = 4,
};

typedef struct
{
  GMainLoop        *loop;
  GwEngine         *engine;
  gboolean          json;
  char             *approve;          /* ask | always | never */
  char             *confirm;          /* ask | always */
  guint             open_window_s;
  gboolean          connect;
  gboolean          enrolling;
  int               exit_code;
  GQueue            prompts;          /* GwPromptInfo ids (guint64 *) awaiting the terminal */
  GDataInputStream *stdin_data;
  GCancellable     *cancellable;
} Daemon;

static void
send_simple (Daemon        *d,
             GwCommandType  type)
{
  gw_engine_send (d->engine, gw_command_new (type));
}

static void
answer (Daemon         *d,
        guint64         id,
        GwPromptAnswer  a)
{
  GwCommand *cmd = gw_command_new (GW_COMMAND_ANSWER_PROMPT);

  cmd->prompt_id = id;
  cmd->answer = a;
  gw_engine_send (d->engine, cmd);
}

static void
ask_on_terminal (const GwPromptInfo *p)
{
  if (p->kind == GW_PROMPT_PAIRING_CODE)
    g_printerr ("Pairing request from %s (%s) at %s. Code: %03u %03u. Does the device show the"
                " same code? [y/n]\n", p->pne_name ? p->pne_name : "?",
                p->entity_type ? p->entity_type : "?", p->address ? p->address : "?",
                p->code / 1000, p->code % 1000);
  else
    g_printerr ("%s (%s) asks to connect. %s Allow [o]nce, [a]lways or [d]eny?\n",
                p->pne_name ? p->pne_name : p->pne_id, p->entity_type ? p->entity_type : "?",
                p->reason ? p->reason : "");
}

static void
on_prompt (Daemon             *d,
           const GwPromptInfo *p)
{
  if (p->kind == GW_PROMPT_PAIRING_CODE && g_strcmp0 (d->confirm, "always") == 0)
    answer (d, p->id, GW_ANSWER_CONFIRM);
  else if (p->kind == GW_PROMPT_APPROVAL && g_strcmp0 (d->approve, "always") == 0)
    answer (d, p->id, GW_ANSWER_ALLOW_ONCE);
  else if (p->kind == GW_PROMPT_APPROVAL && g_strcmp0 (d->approve, "never") == 0)
    answer (d, p->id, GW_ANSWER_DENY);
  else
    {
      guint64 *id = g_new (guint64, 1);

      *id = p->id;
      g_queue_push_tail (&d->prompts, id);
      if (!d->json)
        ask_on_terminal (p);
    }
}

static gint
id_cmp (gconstpointer a,
        gconstpointer b)
{
  return *(const guint64 *) a == *(const guint64 *) b ? 0 : 1;
}

static void
print_human (const GwEvent *e)
{
  switch (e->type)
    {
    case GW_EVENT_SESSION:
    case GW_EVENT_ENROLLMENT:
      printf ("session: %s%s%s\n", gw_session_state_to_string (e->session->state),
              e->session->last_error ? " — " : "",
              e->session->last_error ? e->session->last_error->message : "");
      break;
    case GW_EVENT_FLOW_STEP:
      printf ("%s step %s: %s%s%s\n", e->step->pne_name ? e->step->pne_name : "device",
              gw_step_to_string (e->step->step), gw_step_outcome_to_string (e->step->outcome),
              e->step->error ? " — " : e->step->detail ? " — " : "",
              e->step->error ? e->step->error->message : e->step->detail ? e->step->detail : "");
      break;
    case GW_EVENT_PAIRING_WINDOW:
      if (!e->pairing_window->open || e->pairing_window->remaining_s % 10 == 0)
        printf ("pairing window: %s%s\n", e->pairing_window->open ? "open" : "closed",
                e->pairing_window->open ? "" : "");
      break;
    case GW_EVENT_ENTITY_CHANGED:
      printf ("device %s (%s): %s\n", e->entity->name, e->entity->pne_id,
              gw_entity_state_to_string (e->entity->state));
      break;
    case GW_EVENT_ERROR:
      printf ("error: %s\n", e->error->message);
      break;
    default:
      break;
    }
  fflush (stdout);
}

/* "expired", "wrong_host"… for a failed TLS handshake with the server. */
static const char *
tls_failure_of (const GwEvent *event)
{
  if (event->session == NULL ||
      !(g_error_matches (event->error, CPNS_ERROR, CPNS_ERROR_TLS_FAILED) ||
        g_error_matches (event->error, CPNS_ERROR, CPNS_ERROR_PIN_MISMATCH)))
    return NULL;
  return gw_tls_failure_to_string (event->session->tls_failure);
}

static void
on_event (GwEvent  *event,
          gpointer  user_data)
{
  Daemon *d = user_data;

  if (d->json)
    {
      g_autofree char *line = gw_event_to_json (event);
      printf ("%s\n", line);
      fflush (stdout);
    }
  else
    print_human (event);

  switch (event->type)
    {
    case GW_EVENT_ENROLLMENT:
      d->enrolling = FALSE;
      if (event->error)
        {
          const char *tls_class = tls_failure_of (event);

          if (!d->json)
            g_printerr ("cpns-gatewayd: enrollment failed%s%s%s: %s\n", tls_class ? " (" : "",
                        tls_class ? tls_class : "", tls_class ? ")" : "", event->error->message);
          d->exit_code = EXIT_ENROLLMENT;
          g_main_loop_quit (d->loop);
          return;
        }
      if (d->connect)
        send_simple (d, GW_COMMAND_CONNECT);
      if (d->open_window_s)
        {
          GwCommand *cmd = gw_command_new (GW_COMMAND_OPEN_PAIRING_WINDOW);
          cmd->seconds = d->open_window_s;
          gw_engine_send (d->engine, cmd);
        }
      break;
    case GW_EVENT_PROMPT_RAISED:
      on_prompt (d, event->prompt);
      break;
    case GW_EVENT_PROMPT_WITHDRAWN:
      {
        GList *l = g_queue_find_custom (&d->prompts, &event->prompt->id, id_cmp);

        if (l)
          {
            g_free (l->data);
            g_queue_delete_link (&d->prompts, l);
          }
      }
      break;
    default:
      break;
    }
}

/* ------------------------------------------------------------------ */
/* The terminal (or a test's pipe): answers and a few commands. */

static gboolean
parse_answer (const char     *word,
              GwPromptAnswer *out)
{
  static const struct { const char *word; GwPromptAnswer answer; } table[] = {
    { "y", GW_ANSWER_CONFIRM }, { "yes", GW_ANSWER_CONFIRM }, { "confirm", GW_ANSWER_CONFIRM },
    { "n", GW_ANSWER_REJECT }, { "no", GW_ANSWER_REJECT }, { "reject", GW_ANSWER_REJECT },
    { "o", GW_ANSWER_ALLOW_ONCE }, { "once", GW_ANSWER_ALLOW_ONCE },
    { "a", GW_ANSWER_ALLOW_ALWAYS }, { "always", GW_ANSWER_ALLOW_ALWAYS },
    { "d", GW_ANSWER_DENY }, { "deny", GW_ANSWER_DENY },
  };

  for (guint i = 0; i < G_N_ELEMENTS (table); i++)
    if (g_ascii_strcasecmp (word, table[i].word) == 0)
      {
        *out = table[i].answer;
        return TRUE;
      }
  return FALSE;
}

static void
handle_line (Daemon     *d,
             const char *line)
{
  g_auto(GStrv) words = g_strsplit_set (g_strstrip ((char *) line), " \t", 3);
  GwPromptAnswer a;
  GwCommand *cmd;

  if (words[0] == NULL || words[0][0] == '\0')
    return;
  if (parse_answer (words[0], &a))
    {
      guint64 *id = g_queue_pop_head (&d->prompts);

      if (id == NULL)
        {
          g_printerr ("cpns-gatewayd: no question is open\n");
          return;
        }
      answer (d, *id, a);
      g_free (id);
    }
  else if (g_str_equal (words[0], "answer") && words[1] && words[2] && parse_answer (words[2], &a))
    answer (d, g_ascii_strtoull (words[1], NULL, 10), a);
  else if (g_str_equal (words[0], "open"))
    {
      cmd = gw_command_new (GW_COMMAND_OPEN_PAIRING_WINDOW);
      cmd->seconds = words[1] ? (guint) g_ascii_strtoull (words[1], NULL, 10) : 0;
      gw_engine_send (d->engine, cmd);
    }
  else if (g_str_equal (words[0], "close"))
    send_simple (d, GW_COMMAND_CLOSE_PAIRING_WINDOW);
  else if (g_str_equal (words[0], "connect"))
    send_simple (d, GW_COMMAND_CONNECT);
  else if (g_str_equal (words[0], "disconnect"))
    send_simple (d, GW_COMMAND_DISCONNECT);
  else if ((g_str_equal (words[0], "pair") || g_str_equal (words[0], "pair-discovered")) && words[1])
    {
      cmd = gw_command_new (g_str_equal (words[0], "pair") ? GW_COMMAND_PAIR_ADDRESS
                                                          : GW_COMMAND_PAIR_DISCOVERED);
      cmd->address = g_strdup (words[1]);
      cmd->discovered_id = g_strdup (words[1]);
      gw_engine_send (d->engine, cmd);
    }
  else if ((g_str_equal (words[0], "remove") || g_str_equal (words[0], "block") ||
            g_str_equal (words[0], "unblock") || g_str_equal (words[0], "rekey")) && words[1])
    {
      cmd = gw_command_new (g_str_equal (words[0], "remove") ? GW_COMMAND_REMOVE
                            : g_str_equal (words[0], "rekey") ? GW_COMMAND_REKEY : GW_COMMAND_BLOCK);
      cmd->pne_id = g_strdup (words[1]);
      cmd->flag = g_str_equal (words[0], "block");
      gw_engine_send (d->engine, cmd);
    }
  else if (g_str_equal (words[0], "rename") && words[1] && words[2])
    {
      cmd = gw_command_new (GW_COMMAND_RENAME);
      cmd->pne_id = g_strdup (words[1]);
      cmd->name = g_strdup (words[2]);
      gw_engine_send (d->engine, cmd);
    }
  else if (g_str_equal (words[0], "quit"))
    g_main_loop_quit (d->loop);
  else
    g_printerr ("cpns-gatewayd: unknown input \"%s\" (answers: y/n, once/always/deny;"
                " commands: open [S], close, connect, disconnect, pair HOST:PORT,"
                " pair-discovered ID, remove/block/unblock PNE_ID, rename PNE_ID NAME, quit)\n",
                words[0]);
}

static void read_next_line (Daemon *d);

static void
on_line (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Daemon *d = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source),
                                                                     result, NULL, &error);

  if (line == NULL)
    return;   /* end of input or cancelled: keep running without a terminal */
  handle_line (d, line);
  read_next_line (d);
}

static void
read_next_line (Daemon *d)
{
  g_data_input_stream_read_line_async (d->stdin_data, G_PRIORITY_DEFAULT, d->cancellable,
                                       on_line, d);
}

static gboolean
on_signal (gpointer data)
{
  Daemon *d = data;

  g_main_loop_quit (d->loop);
  return G_SOURCE_CONTINUE;
}

static gboolean
parse_listen (const char      *text,
              GwEngineConfig  *config,
              GError         **error)
{
  const char *colon = strrchr (text, ':');
  guint64 port;

  if (colon)
    {
      g_free (config->listen_address);
      config->listen_address = g_strndup (text, colon - text);
      if (config->listen_address[0] == '[')
        {
          char *inner = g_strndup (config->listen_address + 1, strlen (config->listen_address) - 2);
          g_free (config->listen_address);
          config->listen_address = inner;
        }
      text = colon + 1;
    }
  if (!g_ascii_string_to_unsigned (text, 10, 0, 65535, &port, error))
    return FALSE;
  config->listen_port = (guint16) port;
  return TRUE;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GwEngineConfig) config = gw_engine_config_new ();
  g_autofree char *data_dir = NULL;
  g_autofree char *enroll = NULL;
  g_autofree char *enroll_file = NULL;
  g_autofree char *listen = NULL;
  g_autofree char *key_mode = NULL;
  g_autofree char *events = NULL;
  g_autofree char *approve = NULL;
  g_autofree char *confirm = NULL;
  g_autofree char *name = NULL;
  g_auto(GStrv) targets = NULL;
  gboolean version = FALSE, no_multicast = FALSE, no_discovery = FALSE, connect = FALSE;
  int pairing_window = 0, discovery_port = -1, approval_timeout = 0, heartbeat = 0;
  Daemon d = { 0 };
  GOptionEntry entries[] = {
    { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, &data_dir, "Where the registry lives", "DIR" },
    { "enroll", 0, 0, G_OPTION_ARG_STRING, &enroll, "Enroll with this cpns://enroll invitation (other users can read it in the process list: prefer --enroll-file)", "INVITATION" },
    { "enroll-file", 0, 0, G_OPTION_ARG_FILENAME, &enroll_file, "Enroll with the invitation on the first line of PATH (\"-\": standard input)", "PATH" },
    { "listen", 0, 0, G_OPTION_ARG_STRING, &listen, "CPNS-1 address and port (default 0.0.0.0:7471; port 0 = any)", "[HOST:]PORT" },
    { "key-mode", 0, 0, G_OPTION_ARG_STRING, &key_mode, "Who generates device keys: server (default) or gateway", "MODE" },
    { "pairing-window", 0, 0, G_OPTION_ARG_INT, &pairing_window, "Open the pairing window for SECONDS at start (≤ 900)", "SECONDS" },
    { "approve", 0, 0, G_OPTION_ARG_STRING, &approve, "Connections the policy asks about: ask (terminal), always, never", "ask|always|never" },
    { "confirm-pairing", 0, 0, G_OPTION_ARG_STRING, &confirm, "Pairing codes: ask (terminal) or always", "ask|always" },
    { "events", 0, 0, G_OPTION_ARG_STRING, &events, "Print events as one JSON object per line", "json" },
    { "name", 0, 0, G_OPTION_ARG_STRING, &name, "The gateway's name (default: the host name)", "NAME" },
    { "connect", 0, 0, G_OPTION_ARG_NONE, &connect, "Connect to the server at start (trigger I)", NULL },
    { "discovery-port", 0, 0, G_OPTION_ARG_INT, &discovery_port, "UDP discovery port (default 7472; 0 = any)", "PORT" },
    { "discovery-target", 0, 0, G_OPTION_ARG_STRING_ARRAY, &targets, "Also send discovery datagrams here (repeatable)", "HOST:PORT" },
    { "no-multicast", 0, 0, G_OPTION_ARG_NONE, &no_multicast, "Do not use the multicast group", NULL },
    { "no-discovery", 0, 0, G_OPTION_ARG_NONE, &no_discovery, "No UDP discovery socket at all", NULL },
    { "approval-timeout", 0, 0, G_OPTION_ARG_INT, &approval_timeout, "Seconds a person has to answer (default 120)", "SECONDS" },
    { "heartbeat", 0, 0, G_OPTION_ARG_INT, &heartbeat, "Seconds between pings (default 30)", "SECONDS" },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    { NULL }
  };

  setlocale (LC_ALL, "");
  /* GnuTLS writes every TLS secret to the file this names: never. */
  g_unsetenv ("SSLKEYLOGFILE");
  context = g_option_context_new (NULL);
  g_option_context_set_summary (context, "cpns-gatewayd — the headless PN gateway");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("cpns-gatewayd: %s\n", error->message);
      return EXIT_USAGE;
    }
  if (version)
    {
      printf ("cpns-gatewayd %s\n", PACKAGE_VERSION);
      return EXIT_OK;
    }
  if ((events && !g_str_equal (events, "json")) ||
      (key_mode && !g_str_equal (key_mode, "server") && !g_str_equal (key_mode, "gateway")) ||
      (approve && !g_str_equal (approve, "ask") && !g_str_equal (approve, "always") && !g_str_equal (approve, "never")) ||
      (confirm && !g_str_equal (confirm, "ask") && !g_str_equal (confirm, "always")) ||
      pairing_window < 0 || pairing_window > 900 || approval_timeout < 0 || heartbeat < 0)
    {
      g_printerr ("cpns-gatewayd: invalid option value; see --help\n");
      return EXIT_USAGE;
    }
  if (enroll && enroll_file)
    {
      g_printerr ("cpns-gatewayd: use either --enroll or --enroll-file, not both\n");
      return EXIT_USAGE;
    }
  if (enroll_file && (enroll = cpns_invitation_read_file (enroll_file, &error)) == NULL)
    {
      g_printerr ("cpns-gatewayd: --enroll-file: %s\n", error->message);
      return EXIT_USAGE;
    }
  if (listen && !parse_listen (listen, config, &error))
    {
      g_printerr ("cpns-gatewayd: --listen: %s\n", error->message);
      return EXIT_USAGE;
    }

  config->data_dir = g_steal_pointer (&data_dir);
  config->key_mode = g_steal_pointer (&key_mode);
  if (pairing_window > 0)
    config->pairing_window_s = pairing_window;
  if (approval_timeout > 0)
    config->approval_timeout_s = approval_timeout;
  if (heartbeat > 0)
    config->heartbeat_s = heartbeat;
  if (discovery_port >= 0)
    config->discovery_port = (guint16) discovery_port;
  if (no_multicast)
    g_clear_pointer (&config->discovery_group, g_free);
  config->discovery_enabled = !no_discovery;
  config->discovery_targets = g_steal_pointer (&targets);
  config->gateway_name = g_steal_pointer (&name);

  d.loop = g_main_loop_new (NULL, FALSE);
  d.json = events != NULL;
  d.approve = g_strdup (approve ? approve : "ask");
  d.confirm = g_strdup (confirm ? confirm : "ask");
  d.open_window_s = (guint) pairing_window;
  d.connect = connect;
  d.cancellable = g_cancellable_new ();
  g_queue_init (&d.prompts);

  d.engine = gw_engine_new (config);
  if (!gw_engine_start (d.engine, on_event, &d, &error))
    {
      if (d.json)
        {
          printf ("{\"type\":\"start_failed\",\"message\":\"could not start\"}\n");
          fflush (stdout);
        }
      g_printerr ("cpns-gatewayd: %s\n", error->message);
      gw_engine_free (d.engine);
      g_main_loop_unref (d.loop);
      g_free (d.approve);
      g_free (d.confirm);
      g_object_unref (d.cancellable);
      return EXIT_START;
    }
  if (d.json)
    printf ("{\"type\":\"ready\",\"listen_port\":%u,\"discovery_port\":%u}\n",
            gw_engine_get_listen_port (d.engine), gw_engine_get_discovery_port (d.engine));
  else
    printf ("cpns-gatewayd: listening on port %u, discovery on port %u\n",
            gw_engine_get_listen_port (d.engine), gw_engine_get_discovery_port (d.engine));
  fflush (stdout);

  if (enroll)
    {
      GwCommand *cmd = gw_command_new (GW_COMMAND_ENROLL);

      cmd->invitation = g_steal_pointer (&enroll);
      d.enrolling = TRUE;
      gw_engine_send (d.engine, cmd);
    }
  else
    {
      if (connect)
        send_simple (&d, GW_COMMAND_CONNECT);
      if (d.open_window_s)
        {
          GwCommand *cmd = gw_command_new (GW_COMMAND_OPEN_PAIRING_WINDOW);
          cmd->seconds = d.open_window_s;
          gw_engine_send (d.engine, cmd);
        }
    }

  {
    g_autoptr(GInputStream) in = g_unix_input_stream_new (0, FALSE);
    d.stdin_data = g_data_input_stream_new (in);
    read_next_line (&d);
  }
  g_unix_signal_add (SIGINT, on_signal, &d);
  g_unix_signal_add (SIGTERM, on_signal, &d);

  g_main_loop_run (d.loop);

  g_cancellable_cancel (d.cancellable);
  gw_engine_stop (d.engine);
  /* Deliver what the engine said while stopping (prompts withdrawn, stopped). */
  while (g_main_context_pending (NULL))
    g_main_context_iteration (NULL, FALSE);
  gw_engine_free (d.engine);
  g_queue_clear_full (&d.prompts, g_free);
  g_clear_object (&d.stdin_data);
  g_object_unref (d.cancellable);
  g_main_loop_unref (d.loop);
  g_free (d.approve);
  g_free (d.confirm);
  return d.exit_code;
}
