/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Helpers for the cross-program tests: cpns-server, cpns-gatewayd and
 * cpns-pne as real processes on loopback, free ports only. */

char        *t_build_path       (const char *relative);
char        *t_tmpdir           (void);

typedef struct
{
  GSubprocess *proc;
  char        *dir;
  guint16      port;
  char        *url;
  char        *pin;           /* lowercase hex */
} TServer;

/* CPNS_SERVER_TEST_TIMINGS for the programs started from now on. */
void         t_server_set_test_timings (const char *timings);
/* G_MESSAGES_DEBUG for the programs started from now on (NULL: unset). */
void         t_set_messages_debug (const char *domains);
TServer     *t_server_start     (const char *dir,
                                 guint16     port);
void         t_server_stop      (TServer    *server);
void         t_server_free      (TServer    *server);
/* A fresh invitation for @user (created if needed). */
char        *t_server_invite    (TServer    *server,
                                 const char *user);
/* Runs "cpns-server ARGS… --data-dir DIR"; returns the exit status. */
int          t_server_cli       (TServer    *server,
                                 const char *first_arg,
                                 ...) G_GNUC_NULL_TERMINATED;
/* The entity's state in the server's database, NULL if absent. */
char        *t_server_entity_state (TServer *server,
                                 const char *pne_id);
gint64       t_server_count_entities (TServer *server);

typedef struct
{
  GSubprocess      *proc;
  GOutputStream    *in;
  GDataInputStream *out;
  GPtrArray        *events;      /* JsonObject */
  guint             cursor;
  guint16           port;
  guint16           discovery_port;
  char             *dir;
  gboolean          eof;
  GCancellable     *cancellable;
  GPtrArray        *said;        /* its other output lines (debug), char * */
} TGateway;

/* Starts cpns-gatewayd with --events json, --listen 127.0.0.1:0, no
 * discovery socket unless @extra asks for one, and waits for "ready". */
TGateway    *t_gateway_start    (const char         *data_dir,
                                 const char * const *extra);
void         t_gateway_send     (TGateway   *gw,
                                 const char *line);
typedef gboolean (*TEventMatch) (JsonObject *event,
                                 gpointer    data);
/* The first event from the cursor on that matches; moves the cursor past
 * it. NULL after @timeout_ms. */
JsonObject  *t_gateway_wait     (TGateway   *gw,
                                 TEventMatch match,
                                 gpointer    data,
                                 guint       timeout_ms);
/* Shortcuts. */
JsonObject  *t_gateway_wait_type (TGateway  *gw,
                                 const char *type,
                                 guint       timeout_ms);
/* A flow_step event with that step ("3e") and outcome ("done"). */
JsonObject  *t_gateway_wait_step (TGateway  *gw,
                                 const char *step,
                                 const char *outcome,
                                 guint       timeout_ms);
JsonObject  *t_gateway_wait_session (TGateway *gw,
                                 const char *state,
                                 guint       timeout_ms);
/* Waits until a line of its non-event output (debug messages) contains
 * @text. */
gboolean     t_gateway_wait_said    (TGateway   *gw,
                                     const char *text,
                                     guint       timeout_ms);
/* SIGINT and wait: the exit status (0 = clean). */
int          t_gateway_stop     (TGateway   *gw);
void         t_gateway_kill     (TGateway   *gw);
/* Waits for the process to end by itself. */
gboolean     t_gateway_wait_exit (TGateway   *gw,
                                 guint       timeout_ms);
void         t_gateway_free     (TGateway   *gw);
/* Pumps the main context for @ms. */
void         t_sleep            (guint       ms);

typedef struct
{
  GSubprocess *proc;
  GBytes      *stdout_bytes;
  gboolean     done;
  int          status;
} TPne;

/* cpns-pne ARGS… (NULL-terminated), output captured. */
TPne        *t_pne_spawn        (const char *first_arg,
                                 ...) G_GNUC_NULL_TERMINATED;
TPne        *t_pne_spawnv       (const char * const *argv);
/* Waits (pumping the main context) and returns the exit code; -1 on
 * timeout (the process is killed). */
int          t_pne_wait         (TPne       *pne,
                                 guint       timeout_ms);
/* Runs to completion. */
int          t_pne_run          (guint       timeout_ms,
                                 const char *first_arg,
                                 ...) G_GNUC_NULL_TERMINATED;
void         t_pne_free         (TPne       *pne);
/* The "key=value" of a PNE's credentials file, NULL if absent. */
char        *t_pne_credential   (const char *state_dir,
                                 const char *key);

/* Drops the session from a PNE's credentials (so it runs a full setup). */
void         t_pne_forget_session (const char *state_dir);
void         t_pne_set_credential (const char *state_dir,
                                   const char *key,
                                   const char *value);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TServer, t_server_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TGateway, t_gateway_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TPne, t_pne_free)

G_END_DECLS
