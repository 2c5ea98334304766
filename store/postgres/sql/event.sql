-- The events WeChat pushes (store/credit.go).

-- name: EventInsert
-- The unique index event_once makes a repeated push a no-op: no row comes
-- back.
INSERT INTO event (appid, type, openid, template_id, status, popup_scene, msgid, errcode, create_time, received_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT DO NOTHING
RETURNING id;

-- name: EventListByMsgID
SELECT id, appid, type, openid, template_id, status, popup_scene, msgid, errcode,
       create_time, received_at
  FROM event
 WHERE appid = $1 AND msgid = $2 AND msgid <> ''
 ORDER BY id;

-- name: EventFindSent
-- The sent event that may be WeChat's record of ambiguous message $1 (a
-- subscribe message whose send may or may not have reached WeChat): the
-- oldest subscribe_msg_sent_event of its (app, openid, template) created
-- between the message's creation and its last update, widened by $2 (the
-- skew: WeChat's CreateTime has whole seconds and its own clock), whose
-- msgid no message holds yet. A lookup only: the queue settles the message.
SELECT ev.id, ev.appid, ev.type, ev.openid, ev.template_id, ev.status, ev.popup_scene, ev.msgid, ev.errcode,
       ev.create_time, ev.received_at
  FROM message m
  JOIN event ev ON ev.appid = m.appid AND ev.openid = m.openid AND ev.template_id = m.template_id
 WHERE m.id = $1 AND m.state = 'ambiguous' AND m.kind = 'subscribe'
   AND ev.type = 'subscribe_msg_sent_event' AND ev.msgid <> ''
   AND ev.create_time BETWEEN m.created_at - $2::interval AND m.updated_at + $2::interval
   AND NOT EXISTS (SELECT 1 FROM message x WHERE x.appid = ev.appid AND x.msgid = ev.msgid)
 ORDER BY ev.create_time, ev.id
 LIMIT 1;
