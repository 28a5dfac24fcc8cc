/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* A policy rule of PROTOCOL.md §5.6. A NULL match field matches anything;
 * a rule whose match fields are all NULL matches every entity. */
typedef struct
{
  char   *id;                 /* rule-<32 hex> */
  char   *match_pne_id;
  char   *match_entity_type;
  char   *match_gateway_id;
  char   *action;             /* "allow" | "deny" | "ask" */
  gint64  expires_at;         /* µs since the epoch; 0 = never */
} SrvRule;

typedef struct
{
  char      *default_action;
  GPtrArray *rules;           /* SrvRule*, in order */
} SrvPolicy;

SrvRule    *srv_rule_new               (void);
SrvRule    *srv_rule_copy              (const SrvRule *rule);
void        srv_rule_free              (SrvRule       *rule);

SrvPolicy  *srv_policy_new             (const char    *default_action);
void        srv_policy_free            (SrvPolicy     *policy);

gboolean    srv_policy_action_is_valid (const char    *action);

/* First match wins (expired rules are skipped); else the default action.
 * *@out_rule_id is the matching rule's id, or NULL for the default. */
const char *srv_policy_evaluate        (const SrvPolicy *policy,
                                        const char    *pne_id,
                                        const char    *entity_type,
                                        const char    *gateway_id,
                                        gint64         now,
                                        const char   **out_rule_id);

/* {"default_action":…,"rules":[{"id","match":{…},"action","expires_at"?}]} */
JsonObject *srv_policy_to_json         (const SrvPolicy *policy);
/* Validates the §5.6 shape; rules without an id get a new one. */
SrvPolicy  *srv_policy_from_json       (JsonObject    *object,
                                        GError       **error);
JsonObject *srv_rule_to_json           (const SrvRule *rule);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrvRule, srv_rule_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrvPolicy, srv_policy_free)

G_END_DECLS
