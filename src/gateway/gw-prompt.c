/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "gw-engine"

#include "config.h"

#include "cpns-error.h"
#include "gw-event-private.h"
#include "gw-prompt.h"

typedef struct
{
  GwPrompts        *owner;
  GwPromptInfo     *info;
  guint             timer;
  GwPromptDoneFunc  done;
  gpointer          done_data;
} Prompt;

struct _GwPrompts
{
  GwClock          *clock;
  GwPromptEmitFunc  emit;
  gpointer          emit_data;
  GHashTable       *prompts;   /* guint64* id → Prompt */
  guint64           next_id;
};

static void
prompt_free (Prompt *p)
{
  gw_clock_clear (p->owner->clock, &p->timer);
  gw_prompt_info_free (p->info);
  g_free (p);
}

GwPrompts *
gw_prompts_new (GwClock          *clock,
                GwPromptEmitFunc  emit,
                gpointer          emit_data)
{
  GwPrompts *self = g_new0 (GwPrompts, 1);

  self->clock = clock;
  self->emit = emit;
  self->emit_data = emit_data;
  self->prompts = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL,
                                         (GDestroyNotify) prompt_free);
  self->next_id = 1;
  return self;
}

void
gw_prompts_free (GwPrompts *self)
{
  if (self == NULL)
    return;
  g_hash_table_destroy (self->prompts);
  g_free (self);
}

static GwPromptAnswer
safe_answer (GwPromptKind kind)
{
  return kind == GW_PROMPT_PAIRING_CODE ? GW_ANSWER_REJECT : GW_ANSWER_DENY;
}

/* Removes the prompt, emits the withdrawal, then calls back (if @call). */
static void
finish (GwPrompts        *self,
        Prompt           *p,
        GwPromptAnswer    answer,
        GwWithdrawReason  reason,
        gboolean          call)
{
  GwEvent *event = gw_event_new (GW_EVENT_PROMPT_WITHDRAWN);
  GwPromptDoneFunc done = p->done;
  gpointer done_data = p->done_data;
  guint64 id = p->info->id;

  event->time = gw_clock_now (self->clock);
  event->prompt = gw_prompt_info_copy (p->info);
  event->withdraw_reason = reason;
  g_hash_table_remove (self->prompts, &id);
  self->emit (event, self->emit_data);
  if (call && done)
    done (answer, reason, done_data);
}

static gboolean
on_expired (gpointer data)
{
  Prompt *p = data;

  p->timer = 0;
  finish (p->owner, p, safe_answer (p->info->kind), GW_WITHDRAWN_EXPIRED, TRUE);
  return G_SOURCE_REMOVE;
}

guint64
gw_prompts_raise (GwPrompts        *self,
                  GwPromptInfo     *info,
                  guint             timeout_s,
                  GwPromptDoneFunc  done,
                  gpointer          done_data)
{
  Prompt *p = g_new0 (Prompt, 1);
  GwEvent *event;

  p->owner = self;
  p->info = info;
  p->done = done;
  p->done_data = done_data;
  info->id = self->next_id++;
  info->deadline = gw_clock_now (self->clock) + (gint64) timeout_s * G_USEC_PER_SEC;
  p->timer = gw_clock_add_timeout (self->clock, timeout_s * 1000, on_expired, p);
  g_hash_table_insert (self->prompts, &p->info->id, p);

  event = gw_event_new (GW_EVENT_PROMPT_RAISED);
  event->time = gw_clock_now (self->clock);
  event->prompt = gw_prompt_info_copy (info);
  self->emit (event, self->emit_data);
  return info->id;
}

static gboolean
answer_fits (GwPromptKind   kind,
             GwPromptAnswer answer)
{
  if (kind == GW_PROMPT_PAIRING_CODE)
    return answer == GW_ANSWER_CONFIRM || answer == GW_ANSWER_REJECT;
  return answer == GW_ANSWER_DENY || answer == GW_ANSWER_ALLOW_ONCE ||
         answer == GW_ANSWER_ALLOW_ALWAYS;
}

gboolean
gw_prompts_answer (GwPrompts       *self,
                   guint64          id,
                   GwPromptAnswer   answer,
                   GError         **error)
{
  Prompt *p = g_hash_table_lookup (self->prompts, &id);

  if (p == NULL)
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_NOT_FOUND,
                   "This question is no longer open (it expired or the device left).");
      return FALSE;
    }
  if (!answer_fits (p->info->kind, answer))
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                   "That answer does not fit this question.");
      return FALSE;
    }
  finish (self, p, answer, GW_WITHDRAWN_ANSWERED, TRUE);
  return TRUE;
}

void
gw_prompts_withdraw (GwPrompts        *self,
                     guint64           id,
                     GwWithdrawReason  reason)
{
  Prompt *p = g_hash_table_lookup (self->prompts, &id);

  if (p)
    finish (self, p, safe_answer (p->info->kind), reason, FALSE);
}

void
gw_prompts_cancel_all (GwPrompts *self)
{
  GHashTableIter iter;
  gpointer value;

  while (TRUE)
    {
      Prompt *p = NULL;

      g_hash_table_iter_init (&iter, self->prompts);
      if (!g_hash_table_iter_next (&iter, NULL, &value))
        break;
      p = value;
      finish (self, p, safe_answer (p->info->kind), GW_WITHDRAWN_CANCELLED, TRUE);
    }
}

guint
gw_prompts_count (GwPrompts *self)
{
  return g_hash_table_size (self->prompts);
}
