/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "gw-clock.h"
#include "gw-event.h"

G_BEGIN_DECLS

/*
 * GwPrompts: the questions the engine asks a person (pairing code,
 * connection approval). Each has a deadline; it ends in exactly one way,
 * and each way is an event (GW_EVENT_PROMPT_WITHDRAWN with its reason):
 * answered, expired (the callback gets the safe answer: REJECT / DENY),
 * peer left (no callback: the flow is already gone), cancelled (engine
 * stopping; the callback gets the safe answer with reason CANCELLED).
 */
typedef struct _GwPrompts GwPrompts;

typedef void (*GwPromptDoneFunc) (GwPromptAnswer   answer,
                                  GwWithdrawReason reason,
                                  gpointer         user_data);
typedef void (*GwPromptEmitFunc) (GwEvent *event,    /* owned */
                                  gpointer  user_data);

GwPrompts *gw_prompts_new         (GwClock          *clock,
                                   GwPromptEmitFunc  emit,
                                   gpointer          emit_data);
void       gw_prompts_free        (GwPrompts        *prompts);
/* Takes @info; fills in id and deadline. Emits PROMPT_RAISED. */
guint64    gw_prompts_raise       (GwPrompts        *prompts,
                                   GwPromptInfo     *info,
                                   guint             timeout_s,
                                   GwPromptDoneFunc  done,
                                   gpointer          done_data);
gboolean   gw_prompts_answer      (GwPrompts        *prompts,
                                   guint64           id,
                                   GwPromptAnswer    answer,
                                   GError          **error);
/* Peer left: no callback. No-op for an unknown id. */
void       gw_prompts_withdraw    (GwPrompts        *prompts,
                                   guint64           id,
                                   GwWithdrawReason  reason);
void       gw_prompts_cancel_all  (GwPrompts        *prompts);
guint      gw_prompts_count       (GwPrompts        *prompts);

G_END_DECLS
