// A bot written the way bot authors write them against wickrio-bot-api
// 7.1.x (the hello-world pattern): start, listen, answer with the send
// calls of the addon. The integration test (tests/integration/botapi_test.c)
// runs it, unmodified, against parley-botengine.
const WickrIOBotAPI = require('wickrio-bot-api')
const WickrUser = WickrIOBotAPI.WickrUser

const bot = new WickrIOBotAPI.WickrIOBot()
const WickrIOAPI = bot.apiService().WickrIOAPI

process.stdin.resume()

async function exitHandler(options, err) {
  try {
    await bot.close()
    if (err || options.exit) {
      console.log('Exit reason:', err)
      process.exit()
    }
  } catch (err) {
    console.log(err)
  }
}

process.on('exit', exitHandler.bind(null, { exit: true }))
process.on('SIGINT', exitHandler.bind(null, { exit: true }))
process.on('SIGTERM', exitHandler.bind(null, { exit: true }))

async function main() {
  bot.processesJsonToProcessEnv()
  const tokens = JSON.parse(process.env.tokens)
  const status = await bot.start(tokens.WICKRIO_BOT_NAME.value)
  if (!status) {
    exitHandler(null, { exit: true, reason: 'Client not able to start' })
  }
  await bot.startListening(listen)
  console.log('hello bot: listening')
}

async function listen(rawMessage) {
  const parsed = bot.parseMessage(rawMessage)
  if (!parsed || parsed.msgtype !== 'message') return
  const { command, argument, userEmail, vgroupid, convotype } = parsed

  let greeting = 'Hello'
  if (bot.getUser(userEmail) === undefined) {
    bot.addUser(new WickrUser(userEmail, { messagecount: 0 }))
  } else {
    greeting = 'Welcome back'
  }

  let reply
  if (command === '/echo') {
    reply = `${greeting} ${userEmail}, you said: ${argument}`
  } else if (command === '/secret') {
    // The engine's per-bot secret: encrypt and decrypt round trip.
    const sealed = await WickrIOAPI.cmdEncryptString(argument)
    const opened = await WickrIOAPI.cmdDecryptString(sealed)
    reply = `secret ok: ${opened === argument && sealed !== argument}`
  } else if (command === '/rooms') {
    const rooms = JSON.parse(await WickrIOAPI.cmdGetRooms())
    reply = `rooms: ${rooms.rooms.length}`
  } else if (command === '/unsupported') {
    // Parley has no counterpart: the engine answers a clear failure.
    reply = `unsupported: ${await WickrIOAPI.cmdGetSecurityGroups()}`
  } else {
    reply = `${greeting} ${userEmail} (${convotype})`
  }
  if (convotype === 'personal') {
    await WickrIOAPI.cmdSend1to1Message([userEmail], reply)
  } else {
    await WickrIOAPI.cmdSendRoomMessage(vgroupid, reply)
  }
}

main()
