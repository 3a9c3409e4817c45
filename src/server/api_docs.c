/* api_docs.c - the offline API reference; see api_docs.h. The renderer
 * builds the page with textContent only, never innerHTML, so nothing in
 * the document can inject markup. */
#include "api_docs.h"
#include "admin_openapi.h"

static const char page[] =
    "<!doctype html>\n"
    "<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>Parley admin API</title>\n"
    "<script type=\"module\" src=\"/api/docs/docs.js\"></script>\n"
    "</head><body>\n"
    "<h1>Parley admin API</h1>\n"
    "<p id=\"intro\">Loading <a href=\"/api/docs/openapi.json\">openapi.json</a>...</p>\n"
    "<p><input id=\"filter\" placeholder=\"filter: path, method or permission\"></p>\n"
    "<div id=\"ops\"></div>\n"
    "</body></html>\n";

static const char script[] =
    "// docs.js - renders /api/docs/openapi.json: one section per endpoint\n"
    "// with its permission, scope, parameters and a curl example.\n"
    "const el = (tag, text, style) => {\n"
    "  const e = document.createElement(tag);\n"
    "  if (text !== undefined) e.textContent = text;\n"
    "  if (style) e.style.cssText = style;\n"
    "  return e;\n"
    "};\n"
    "// Styles through the CSSOM: the security policy forbids inline ones.\n"
    "document.body.style.cssText = "
    "'font-family:sans-serif;max-width:60em;margin:auto;padding:1em';\n"
    "document.getElementById('filter').style.width = '100%';\n"
    "const doc = await (await fetch('/api/docs/openapi.json')).json();\n"
    "document.getElementById('intro').textContent = doc.info.description;\n"
    "const ops = document.getElementById('ops');\n"
    "const sections = [];\n"
    "for (const [path, item] of Object.entries(doc.paths)) {\n"
    "  for (const [method, op] of Object.entries(item)) {\n"
    "    const s = el('section', undefined, 'border-top:1px solid #ccc;padding:.5em 0');\n"
    "    const h = el('h3', undefined, 'font-family:monospace');\n"
    "    h.append(el('span', method.toUpperCase() + ' ', 'color:#06c'), el('span', path));\n"
    "    s.append(h);\n"
    "    s.append(el('p', 'Permission: ' + op['x-parley-permission'] + ' \\u2014 scope: ' +\n"
    "                     op['x-parley-scope'] + '. ' + op.description));\n"
    "    for (const p of op.parameters || [])\n"
    "      s.append(el('p', 'Path parameter: ' + p.name));\n"
    "    if (op.requestBody) s.append(el('p', 'Takes a JSON object body.'));\n"
    "    s.append(el('pre', op['x-curl'], 'background:#f4f4f4;padding:.5em;overflow:auto'));\n"
    "    s.dataset.key = (method + ' ' + path + ' ' + op['x-parley-permission']).toLowerCase();\n"
    "    sections.push(s);\n"
    "    ops.append(s);\n"
    "  }\n"
    "}\n"
    "document.getElementById('filter').addEventListener('input', (ev) => {\n"
    "  const q = ev.target.value.toLowerCase();\n"
    "  for (const s of sections) s.hidden = !s.dataset.key.includes(q);\n"
    "});\n";

void api_docs_page(struct http_req *req)
{
    http_reply(req, 200, "text/html; charset=utf-8", page, sizeof(page) - 1);
}

void api_docs_script(struct http_req *req)
{
    http_reply(req, 200, "text/javascript; charset=utf-8", script, sizeof(script) - 1);
}

void api_docs_openapi(struct http_req *req)
{
    http_reply_json(req, 200, admin_openapi_build());
}
