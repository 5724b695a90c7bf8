'use strict'
// The peer's create: the order and its items in one transaction, through Platformatic's own
// entities (the generated POST /orders would store an order without its items). Pricing is
// done in integer cents; the body is the one ordo takes.
const { randomUUID } = require('node:crypto')

const cents = (decimal) => {
  const [whole, fraction = ''] = String(decimal).split('.')
  return Number(whole) * 100 + Number((fraction + '00').slice(0, 2))
}
const money = (amount) => (amount / 100).toFixed(2)

module.exports = async function (app) {
  const { db, entities } = app.platformatic
  app.post('/v1/orders', async (request, reply) => {
    const body = request.body
    const lines = body.items.map((item, position) => ({
      position,
      productId: item.product_id,
      quantity: item.quantity,
      unitPrice: item.unit_price,
      lineTotal: money(cents(item.unit_price) * item.quantity)
    }))
    const subtotal = lines.reduce((sum, line) => sum + cents(line.lineTotal), 0)
    const tax = Math.round(subtotal * Number(body.tax_rate ?? 0))
    const now = new Date()
    const id = randomUUID()
    const order = await db.tx(async (tx) => {
      const saved = await entities.order.save({
        input: {
          id,
          orderNumber: 'PEER-' + id,
          customerId: body.customer_id,
          currency: body.currency,
          subtotal: money(subtotal),
          discount: '0',
          taxRate: body.tax_rate ?? null,
          tax: money(tax),
          total: money(subtotal + tax),
          minorUnits: 2,
          roundingMode: 'half_up',
          taxRounding: 'per_order',
          status: 'pending',
          version: 1,
          createdAt: now,
          updatedAt: now
        },
        tx
      })
      saved.items = await entities.orderItem.insert({
        inputs: lines.map((line) => ({ orderId: id, ...line })),
        tx
      })
      return saved
    })
    reply.code(201)
    return order
  })
}
