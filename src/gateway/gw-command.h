/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>
#include "gw-event.h"

G_BEGIN_DECLS

/* Commands: immutable requests from the owner to the engine thread. The
 * engine answers through events (and GW_EVENT_ERROR when a command cannot
 * be carried out). */

typedef enum
{
  GW_COMMAND_ENROLL,              /* invitation, or server_url+user_id+code(+pin) */
  GW_COMMAND_FORGET_ENROLLMENT,
  GW_COMMAND_CONNECT,             /* step 1, trigger I */
  GW_COMMAND_DISCONNECT,
  GW_COMMAND_OPEN_PAIRING_WINDOW, /* seconds (0 = setting) */
  GW_COMMAND_CLOSE_PAIRING_WINDOW,
  GW_COMMAND_PAIR_DISCOVERED,     /* discovered_id */
  GW_COMMAND_PAIR_ADDRESS,        /* address "host:port" of the PNE's discovery socket */
  GW_COMMAND_ANSWER_PROMPT,       /* prompt_id, answer */
  GW_COMMAND_RENAME,              /* pne_id, name */
  GW_COMMAND_REKEY,               /* pne_id */
  GW_COMMAND_REMOVE,              /* pne_id */
  GW_COMMAND_BLOCK,               /* pne_id, flag */
  GW_COMMAND_SET_KEY_MODE,        /* key_mode "server" | "gateway" */
  GW_COMMAND_SET_PAIRING_WINDOW_LENGTH, /* seconds */
  GW_COMMAND_SET_DISCOVERY,       /* flag */
} GwCommandType;

typedef struct
{
  GwCommandType   type;
  char           *invitation;     /* secret (holds the enrollment code) */
  char           *server_url;
  char           *user_id;
  char           *code;           /* secret */
  char           *pin_sha256;
  char           *gateway_name;
  guint           seconds;
  char           *discovered_id;
  char           *address;
  guint64         prompt_id;
  GwPromptAnswer  answer;
  char           *pne_id;
  char           *name;
  gboolean        flag;
  char           *key_mode;
} GwCommand;

#define GW_TYPE_COMMAND (gw_command_get_type ())
GType       gw_command_get_type (void) G_GNUC_CONST;
GwCommand  *gw_command_new      (GwCommandType  type);
GwCommand  *gw_command_ref      (GwCommand     *command);
void        gw_command_unref    (GwCommand     *command);  /* wipes secrets */

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GwCommand, gw_command_unref)

G_END_DECLS
