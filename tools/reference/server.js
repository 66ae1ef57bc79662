// The reference peer for benchmarks: a multi-room chat built the way the Cloud Run WebSocket
// tutorial builds it — socket.io rooms, broadcast across instances through the Redis adapter,
// each room's history kept in a Redis list. Kept to that design on purpose (no tuning), so the
// figures compare our backend with the common way of writing this service. See README.md.
'use strict';

const http = require('http');
const {Server} = require('socket.io');
const {createAdapter} = require('@socket.io/redis-adapter');
const {createClient} = require('redis');

const port = Number(process.env.PORT || 8080);
const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

// Who is on which socket of this instance: socket id -> {user, room}.
const users = new Map();

function addUser(id, user, room) {
  users.set(id, {user, room});
}

function getUser(id) {
  return users.get(id) || {};
}

function deleteUser(id) {
  const found = users.get(id) || {};
  users.delete(id);
  return found;
}

async function main() {
  const redisClient = createClient({url: redisUrl});
  const subClient = redisClient.duplicate();
  redisClient.on('error', err => console.error(err.message));
  subClient.on('error', err => console.error(err.message));
  await Promise.all([redisClient.connect(), subClient.connect()]);

  // A room's history: every message as JSON, oldest first.
  const historyKey = room => `room:${room}`;
  const getRoomFromCache = async room => {
    const items = await redisClient.lRange(historyKey(room), 0, -1);
    return items.length ? items.map(item => JSON.parse(item)) : null;
  };
  const addMessageToCache = async (room, msg) => {
    await redisClient.rPush(historyKey(room), JSON.stringify(msg));
  };

  const server = http.createServer((req, res) => {
    res.writeHead(req.url === '/readyz' ? 200 : 404).end();
  });
  const io = new Server(server);
  io.adapter(createAdapter(redisClient, subClient));

  io.on('connection', socket => {
    socket.on('signin', async ({user, room} = {}, callback = () => {}) => {
      try {
        addUser(socket.id, user, room);
        socket.join(room);
        socket.in(room).emit('notification', {
          title: "Someone's here",
          description: `${user} just entered the room`,
        });
        callback(null, await getRoomFromCache(room));
      } catch (err) {
        callback(String(err), null);
      }
    });

    socket.on('updateSocketId', ({user, room} = {}) => {
      addUser(socket.id, user, room);
      socket.join(room);
    });

    socket.on('sendMessage', (text, callback = () => {}) => {
      const {user, room} = getUser(socket.id);
      if (!room) {
        callback('User session not found.');
        return;
      }
      const msg = {user, text};
      io.in(room).emit('message', msg);
      addMessageToCache(room, msg).catch(err => console.error(err.message));
      callback();
    });

    socket.on('disconnect', () => {
      const {user, room} = deleteUser(socket.id);
      if (user) {
        io.in(room).emit('notification', {
          title: 'Someone just left',
          description: `${user} just left the room`,
        });
      }
    });
  });

  server.listen(port, () => console.log(`reference chat listening on ${port}`));
  const stop = () => {
    io.close();
    Promise.allSettled([redisClient.quit(), subClient.quit()]).then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
