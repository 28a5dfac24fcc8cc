/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "gw-engine"

#include "config.h"

#include "cpns-crypto.h"
#include "gw-command.h"

typedef struct
{
  GwCommand       command;
  gatomicrefcount ref;
} GwCommandReal;

G_DEFINE_BOXED_TYPE (GwCommand, gw_command, gw_command_ref, gw_command_unref)

GwCommand *
gw_command_new (GwCommandType type)
{
  GwCommandReal *real = g_new0 (GwCommandReal, 1);

  g_atomic_ref_count_init (&real->ref);
  real->command.type = type;
  return &real->command;
}

GwCommand *
gw_command_ref (GwCommand *command)
{
  GwCommandReal *real = (GwCommandReal *) command;

  g_return_val_if_fail (command != NULL, NULL);
  g_atomic_ref_count_inc (&real->ref);
  return command;
}

void
gw_command_unref (GwCommand *command)
{
  GwCommandReal *real = (GwCommandReal *) command;

  g_return_if_fail (command != NULL);
  if (!g_atomic_ref_count_dec (&real->ref))
    return;
  cpns_free_secret_string (command->invitation);
  g_free (command->server_url);
  g_free (command->user_id);
  cpns_free_secret_string (command->code);
  g_free (command->pin_sha256);
  g_free (command->gateway_name);
  g_free (command->discovered_id);
  g_free (command->address);
  g_free (command->pne_id);
  g_free (command->name);
  g_free (command->key_mode);
  g_free (real);
}
