-- The events WeChat pushes (store.Executor Event*).

-- name: EventInsert
-- WeChat repeats a push it got no timely answer to: a repeat hits event_once
-- and returns no row.
INSERT INTO event (appid, type, openid, template_id, status, popup_scene, msgid, errcode, create_time, received_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
ON CONFLICT DO NOTHING
RETURNING id;

-- name: EventListByMsgID
SELECT id, appid, type, openid, template_id, status, popup_scene, msgid, errcode,
       create_time, received_at
  FROM event
 WHERE appid = ?1 AND msgid = ?2 AND msgid <> ''
 ORDER BY id;

-- name: EventFindSent
-- The sent event that may be WeChat's record of ambiguous subscribe message
-- ?1: the oldest subscribe_msg_sent_event of the message's (app, openid,
-- template) whose CreateTime lies between the message's creation and its
-- last update (the moment it was marked ambiguous), give or take ?2 (the
-- skew, in microseconds), and whose msgid no message holds yet. It only
-- looks: the queue settles the message.
SELECT e.id, e.appid, e.type, e.openid, e.template_id, e.status, e.popup_scene, e.msgid, e.errcode,
       e.create_time, e.received_at
  FROM message m
  JOIN event e ON e.appid = m.appid AND e.openid = m.openid AND e.template_id = m.template_id
 WHERE m.id = ?1 AND m.state = 'ambiguous' AND m.kind = 'subscribe'
   AND e.type = 'subscribe_msg_sent_event' AND e.msgid <> ''
   AND e.create_time BETWEEN m.created_at - ?2 AND m.updated_at + ?2
   AND NOT EXISTS (SELECT 1 FROM message x WHERE x.appid = e.appid AND x.msgid = e.msgid)
 ORDER BY e.create_time, e.id
 LIMIT 1;
