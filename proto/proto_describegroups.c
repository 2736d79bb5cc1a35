/* proto/proto_describegroups.c: DescribeGroups (key 15), v0-5
 * (schemas/DescribeGroups*.json; v5 flexible). Request: groups[string],
 * include_authorized_operations (v3+). Response: throttle (v1+),
 * groups[error_code, group_id, group_state, protocol_type, protocol_data,
 * members[member_id, group_instance_id (v4+, nullable), client_id,
 * client_host, member_metadata, member_assignment], authorized_operations
 * (v3+)]. */
#include "proto.h"

enum weir_err kproto_describegroups_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                           struct kdescribegroups_req *req)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_DESCRIBE_GROUPS, version), false };
    if (!kproto_supported(KAPI_DESCRIBE_GROUPS, version)) return WEIR_E_UNSUPPORTED;
    req->n_groups = kd_array(&d, KPROTO_GROUPS_MAX);
    req->groups = kd_alloc(&d, req->n_groups, sizeof *req->groups);
    for (int32_t i = 0; req->groups && i < req->n_groups && !rd->err; i++) req->groups[i] = kd_str(&d);
    req->include_authorized_operations = version >= 3 ? kr_bool(rd) : false;
    kd_tags(&d);
    return kd_done(&d);
}

void kproto_describegroups_encode(struct kbuf *out, int16_t version, const struct kdescribegroups_resp *resp)
{
    WEIR_ASSERT(kproto_supported(KAPI_DESCRIBE_GROUPS, version));
    bool flex = kproto_request_flexible(KAPI_DESCRIBE_GROUPS, version);
    if (version >= 1) kb_i32(out, resp->throttle_time_ms);
    kb_arr(out, flex, resp->n_groups);
    for (int32_t i = 0; i < resp->n_groups; i++) {
        const struct kdescribegroups_group *g = &resp->groups[i];
        kb_i16(out, g->error_code);
        kb_str(out, flex, g->group_id);
        kb_str(out, flex, g->state);
        kb_str(out, flex, g->protocol_type);
        kb_str(out, flex, g->protocol_data);
        kb_arr(out, flex, g->n_members);
        for (int32_t j = 0; j < g->n_members; j++) {
            const struct kdescribegroups_member *m = &g->members[j];
            kb_str(out, flex, m->member_id);
            if (version >= 4) kb_nstr(out, flex, m->group_instance_id);
            kb_str(out, flex, m->client_id);
            kb_str(out, flex, m->client_host);
            kb_blob(out, flex, m->metadata);
            kb_blob(out, flex, m->assignment);
            kb_tags(out, flex);
        }
        if (version >= 3) kb_i32(out, g->authorized_operations);
        kb_tags(out, flex);
    }
    kb_tags(out, flex);
}

/* ---- client side ---- */

void kproto_describegroups_request_encode(struct kbuf *out, int16_t version, const struct kdescribegroups_req *req)
{
    WEIR_ASSERT(kproto_supported(KAPI_DESCRIBE_GROUPS, version));
    bool flex = kproto_request_flexible(KAPI_DESCRIBE_GROUPS, version);
    kb_str_array(out, flex, req->groups, req->n_groups);
    if (version >= 3) kb_bool(out, req->include_authorized_operations);
    kb_tags(out, flex);
}

enum weir_err kproto_describegroups_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                    struct kdescribegroups_resp *resp)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_DESCRIBE_GROUPS, version), true };
    if (!kproto_supported(KAPI_DESCRIBE_GROUPS, version)) return WEIR_E_UNSUPPORTED;
    resp->throttle_time_ms = version >= 1 ? weir_rd_i32(rd) : 0;
    resp->n_groups = kd_array(&d, KPROTO_GROUPS_MAX);
    struct kdescribegroups_group *groups = kd_alloc(&d, resp->n_groups, sizeof *groups);
    for (int32_t i = 0; groups && i < resp->n_groups && !rd->err; i++) {
        struct kdescribegroups_group *g = &groups[i];
        g->error_code = weir_rd_i16(rd);
        g->group_id = kd_str(&d);
        g->state = kd_str(&d);
        g->protocol_type = kd_str(&d);
        g->protocol_data = kd_str(&d);
        g->n_members = kd_array(&d, KPROTO_MEMBERS_MAX);
        struct kdescribegroups_member *m = kd_alloc(&d, g->n_members, sizeof *m);
        for (int32_t j = 0; m && j < g->n_members && !rd->err; j++) {
            m[j].member_id = kd_str(&d);
            m[j].group_instance_id = version >= 4 ? kd_nstr(&d) : KSTR_NULL;
            m[j].client_id = kd_str(&d);
            m[j].client_host = kd_str(&d);
            m[j].metadata = kd_bytes(&d);
            m[j].assignment = kd_bytes(&d);
            kd_tags(&d);
        }
        g->members = m;
        g->authorized_operations = version >= 3 ? weir_rd_i32(rd) : KPROTO_AUTHORIZED_OPS_NONE;
        kd_tags(&d);
    }
    resp->groups = groups;
    kd_tags(&d);
    return kd_done(&d);
}
