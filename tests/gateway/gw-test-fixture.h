/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "gw-test-harness.h"

G_BEGIN_DECLS

#define PNE_TIMEOUT_MS 30000

/* A server with user "alice", an enrolled gateway with its pairing window
 * open, and a state directory for one PNE. */
typedef struct
{
  char     *dir;
  TServer  *server;
  TGateway *gw;
  char     *address;    /* the gateway's "127.0.0.1:port" */
  char     *pne_dir;
} Fixture;

void      fixture_start     (Fixture            *fx,
                             const char * const *extra);
void      fixture_stop      (Fixture            *fx);
/* cpns-pne pair with --yes; its exit code. */
int       pne_pair          (Fixture            *fx,
                             const char         *state_dir);
/* The flow_step events of @flow (NULL: all) as "step:outcome …". */
char     *step_trace        (TGateway           *gw,
                             const char         *flow);
gboolean  wait_server_state (TServer            *server,
                             const char         *pne_id,
                             const char         *state,   /* NULL: absent */
                             guint               timeout_ms);

G_END_DECLS
