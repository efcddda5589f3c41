-- Prosody configuration for the HelpIM room bot: merge into
-- /etc/prosody/prosody.cfg.lua (or put it into /etc/prosody/conf.d/).
-- Replace example.org and the names below with yours.

-- The bot's account is an admin: only admins may create rooms, and the bot
-- re-creates and rejoins its own rooms as owner.  No person gets this role.
admins = { "helpim@example.org" }

-- Many rooms come and go: SQL storage keeps room creation flat where the
-- default file storage rewrites the room list on every save (package
-- lua-dbi-sqlite3, or lua-dbi-postgresql with driver = "PostgreSQL").
storage = "sql"
sql = { driver = "SQLite3", database = "prosody.sqlite" }

-- The bot's account lives here (prosodyctl adduser helpim@example.org).
VirtualHost "example.org"

-- Staff members and clients log in anonymously, through the webapp's
-- XMPP client, on a host of their own.
VirtualHost "guest.example.org"
	authentication = "anonymous"
	-- anonymous users cannot reach other servers (the default)
	allow_anonymous_s2s = false

-- muc_domain of helpim.conf.
Component "chat.example.org" "muc"
	-- only admins (the bot) may create rooms
	restrict_room_creation = true
	-- every open room stays in memory: at least max_rooms, with room to spare
	muc_room_cache_size = 100000
	muc_room_default_public = false
	muc_room_default_members_only = false
	muc_room_default_persistent = true
	-- a destroyed room answers "gone" for this long, so its name is never
	-- reused by someone else; helpim-watch reports such a room as lost
	muc_tombstones = true
	muc_tombstone_expiry = 86400 * 31
	-- the chats are not logged on the server: do not add "muc_mam" to
	-- modules_enabled of this component
