/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "gw-event.h"

G_BEGIN_DECLS

void           gw_session_info_free     (GwSessionInfo    *info);
void           gw_discovered_info_free  (GwDiscoveredInfo *info);
void           gw_step_info_free        (GwStepInfo       *info);
GwStepInfo    *gw_step_info_copy        (const GwStepInfo *info);
void           gw_prompt_info_free      (GwPromptInfo     *info);
GwPromptInfo  *gw_prompt_info_copy      (const GwPromptInfo *info);
void           gw_entity_info_free      (GwEntityInfo     *info);
GwEntityInfo  *gw_entity_info_copy      (const GwEntityInfo *info);

const char    *gw_flow_kind_to_string        (GwFlowKind       kind);
const char    *gw_prompt_kind_to_string      (GwPromptKind     kind);
const char    *gw_withdraw_reason_to_string  (GwWithdrawReason reason);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GwEntityInfo, gw_entity_info_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GwStepInfo, gw_step_info_free)

G_END_DECLS
