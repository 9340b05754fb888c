// A notebook hub's front door on 127.0.0.1, for the tunnel tests: HTTPS
// with the tests' private CA, WebSockets relayed by node-http-proxy (the
// library JupyterHub's configurable-http-proxy is built on), and the routing
// jupyter-server-proxy adds to a user's server: /user/NAME/proxy/PORT/REST
// goes to http://127.0.0.1:PORT/REST once the hub's token is shown
// (Authorization: token T or Bearer T, as JupyterHub takes it).
//
//   node hub_proxy.js --cert server.pem --key server.key --user NAME --token T
//
// Prints the port it listens on as its first line; one line per request on
// stderr (method, path, status).
'use strict';
const fs = require('fs');
const https = require('https');
const httpProxy = require('http-proxy');

function arg(name) {
    const i = process.argv.indexOf('--' + name);
    if (i < 0 || i + 1 >= process.argv.length) {
        console.error(`hub_proxy: --${name} is needed`);
        process.exit(2);
    }
    return process.argv[i + 1];
}

const user = arg('user');
const token = arg('token');
const prefix = `/user/${user}/proxy/`;
const proxy = httpProxy.createProxyServer({ ws: true, xfwd: true });
proxy.on('error', (err, req, res) => {
    console.error(`hub_proxy: ${req.url}: ${err.message}`);
    if (res && typeof res.writeHead === 'function' && !res.headersSent) {
        res.writeHead(502, { 'Content-Type': 'text/plain' });
        res.end('bad gateway\n');
    } else if (res && typeof res.destroy === 'function') {
        res.destroy();
    }
});

// The target of a request, or a status to answer with.
function route(req) {
    const auth = req.headers['authorization'] || '';
    if (auth !== `token ${token}` && auth !== `Bearer ${token}`) {
        return { status: 403 };
    }
    if (!req.url.startsWith(prefix)) {
        return { status: 404 };
    }
    const rest = req.url.slice(prefix.length);
    const slash = rest.indexOf('/');
    const port = Number(slash < 0 ? rest : rest.slice(0, slash));
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
        return { status: 404 };
    }
    req.url = slash < 0 ? '/' : rest.slice(slash);
    return { target: `http://127.0.0.1:${port}` };
}

const server = https.createServer({ cert: fs.readFileSync(arg('cert')), key: fs.readFileSync(arg('key')) },
    (req, res) => {
        const path = req.url;
        const r = route(req);
        console.error(`${req.method} ${path} ${r.status || 'proxied'}`);
        if (r.status) {
            res.writeHead(r.status, { 'Content-Type': 'text/plain' });
            res.end(`${r.status}\n`);
            return;
        }
        proxy.web(req, res, { target: r.target });
    });
server.on('upgrade', (req, socket, head) => {
    const path = req.url;
    const r = route(req);
    console.error(`UPGRADE ${path} ${r.status || 'proxied'}`);
    if (r.status) {
        socket.end(`HTTP/1.1 ${r.status} Refused\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
        return;
    }
    proxy.ws(req, socket, head, { target: r.target });
});
server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${server.address().port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
