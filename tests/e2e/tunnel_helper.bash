# shellcheck shell=bash
# A platform's HTTPS proxy on loopback, for the tunnel tests and benchmark:
# Debian's nginx with its own config, a private CA and a server certificate
# for 127.0.0.1 and localhost signed by it.
#
#   tunnel_make_ca DIR              ca.pem, server.pem/.key (and other-ca.pem,
#                                   a CA that signed nothing here) in DIR
#   tunnel_nginx_start DIR UPSTREAM [STREAM_UPSTREAM]
#                                   nginx on a free port: https://127.0.0.1:PORT
#                                   proxies WebSockets (and plain GETs) to
#                                   127.0.0.1:UPSTREAM with 3 s idle timeouts;
#                                   with STREAM_UPSTREAM also a plain TCP proxy
#                                   (nginx's stream module) to it and a TLS
#                                   one (stream, TLS ended by nginx, same
#                                   certificate). Sets TUNNEL_NGINX_PORT (and
#                                   TUNNEL_STREAM_PORT, TUNNEL_STREAM_TLS_PORT).
#   tunnel_nginx_stop DIR           stops it (safe when nothing runs)
#   tunnel_proxy_start DIR [--user U --password P]
#                                   an HTTP CONNECT proxy (as a corporate
#                                   network's HTTPS_PROXY) on a free port of
#                                   127.0.0.1 (helpers/connect_proxy.py); one
#                                   line per CONNECT in DIR/connect.log. Sets
#                                   TUNNEL_PROXY_PORT.
#   tunnel_proxy_stop DIR           stops it (safe when nothing runs)
#   tunnel_hub_start DIR USER TOKEN a notebook hub's proxy (helpers/hub_proxy.js:
#                                   node-http-proxy, as JupyterHub's) on a free
#                                   port of 127.0.0.1 with the CA of DIR:
#                                   https://…/user/USER/proxy/PORT/PATH goes to
#                                   127.0.0.1:PORT/PATH for Authorization: token
#                                   TOKEN. Sets TUNNEL_HUB_PORT.
#   tunnel_hub_stop DIR             stops it (safe when nothing runs)
#
# The functions print a reason on stderr and return non-zero on failure, so a
# script outside bats can use them too.

# Seconds nginx lets a proxied connection sit idle (proxy_read_timeout and
# proxy_send_timeout): short, so that a test sees whether pings keep it open.
TUNNEL_PROXY_TIMEOUT=${TUNNEL_PROXY_TIMEOUT:-3}
TUNNEL_NGINX_STREAM_MODULE=/usr/lib/nginx/modules/ngx_stream_module.so
TUNNEL_CONNECT_PROXY=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/helpers/connect_proxy.py
TUNNEL_HUB_PROXY=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/helpers/hub_proxy.js
# Where Debian's node modules are (node-http-proxy).
TUNNEL_NODE_PATH=/usr/share/nodejs

# _tunnel_free_port: a TCP port nobody listens on (common.sh's sb_free_port).
_tunnel_free_port() {
	sb_free_port
}

tunnel_make_ca() {
	local dir=$1
	mkdir -p "$dir"
	[[ -s $dir/server.pem && -s $dir/other-ca.pem ]] && return 0
	command -v openssl >/dev/null || {
		echo "tunnel_make_ca: needs openssl" >&2
		return 1
	}
	(
		set -e
		cd "$dir"
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
			-subj "/CN=sshboot test CA" -keyout ca.key -out ca.pem 2>/dev/null
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
		printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
			"basicConstraints=CA:FALSE" "extendedKeyUsage=serverAuth" >server.ext
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
			-days 2 -extfile server.ext -out server.pem 2>/dev/null
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
			-subj "/CN=another test CA" -keyout other-ca.key -out other-ca.pem 2>/dev/null
	) || {
		echo "tunnel_make_ca: openssl failed in $dir" >&2
		return 1
	}
}

tunnel_nginx_start() {
	local dir=$1 upstream=$2 stream_upstream=${3:-} port stream_port="" tls_port="" i
	command -v nginx >/dev/null || {
		echo "tunnel_nginx_start: needs nginx (nginx-light; bash scripts/install-deps.sh)" >&2
		return 1
	}
	if [[ -n $stream_upstream && ! -f $TUNNEL_NGINX_STREAM_MODULE ]]; then
		echo "tunnel_nginx_start: needs $TUNNEL_NGINX_STREAM_MODULE (libnginx-mod-stream)" >&2
		return 1
	fi
	tunnel_make_ca "$dir" || return 1
	mkdir -p "$dir/temp"
	port=$(_tunnel_free_port) || return 1
	{
		[[ -z $stream_upstream ]] || echo "load_module $TUNNEL_NGINX_STREAM_MODULE;"
		cat <<-CONF
			daemon on;
			pid $dir/nginx.pid;
			error_log $dir/error.log warn;
			worker_processes 1;
			events { worker_connections 1024; }
			http {
			    access_log off;
			    client_body_temp_path $dir/temp/body;
			    proxy_temp_path $dir/temp/proxy;
			    fastcgi_temp_path $dir/temp/fastcgi;
			    uwsgi_temp_path $dir/temp/uwsgi;
			    scgi_temp_path $dir/temp/scgi;
			    map \$http_upgrade \$connection_upgrade {
			        default upgrade;
			        ''      close;
			    }
			    server {
			        listen 127.0.0.1:$port ssl;
			        server_name localhost;
			        ssl_certificate $dir/server.pem;
			        ssl_certificate_key $dir/server.key;
			        location / {
			            proxy_pass http://127.0.0.1:$upstream;
			            proxy_http_version 1.1;
			            proxy_set_header Upgrade \$http_upgrade;
			            proxy_set_header Connection \$connection_upgrade;
			            proxy_set_header Host \$host;
			            proxy_buffering off;
			            proxy_buffer_size 64k;
			            proxy_buffers 4 64k;
			            proxy_read_timeout ${TUNNEL_PROXY_TIMEOUT}s;
			            proxy_send_timeout ${TUNNEL_PROXY_TIMEOUT}s;
			        }
			    }
			}
		CONF
		if [[ -n $stream_upstream ]]; then
			stream_port=$(_tunnel_free_port) || return 1
			tls_port=$(_tunnel_free_port) || return 1
			cat <<-CONF
				stream {
				    server {
				        listen 127.0.0.1:$stream_port;
				        proxy_pass 127.0.0.1:$stream_upstream;
				        proxy_buffer_size 64k;
				    }
				    server {
				        listen 127.0.0.1:$tls_port ssl;
				        ssl_certificate $dir/server.pem;
				        ssl_certificate_key $dir/server.key;
				        proxy_pass 127.0.0.1:$stream_upstream;
				        proxy_buffer_size 64k;
				    }
				}
			CONF
		fi
	} >"$dir/nginx.conf"
	if ! nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" 2>"$dir/start.log"; then
		echo "tunnel_nginx_start: nginx did not start: $(tail -n 3 "$dir/start.log" "$dir/error.log" 2>/dev/null)" >&2
		return 1
	fi
	for ((i = 0; i < 100; i++)); do
		if sb_port_in_use "$port" && { [[ -z $stream_port ]] || { sb_port_in_use "$stream_port" && sb_port_in_use "$tls_port"; }; }; then
			TUNNEL_NGINX_PORT=$port
			TUNNEL_STREAM_PORT=$stream_port
			TUNNEL_STREAM_TLS_PORT=$tls_port
			export TUNNEL_NGINX_PORT TUNNEL_STREAM_PORT TUNNEL_STREAM_TLS_PORT
			return 0
		fi
		sleep 0.1
	done
	echo "tunnel_nginx_start: nginx does not listen on $port after 10 s: $(tail -n 3 "$dir/error.log")" >&2
	tunnel_nginx_stop "$dir"
	return 1
}

tunnel_nginx_stop() { _tunnel_daemon_stop "$1" nginx; }

# _tunnel_daemon_start DIR NAME COMMAND...: runs COMMAND in the background
# (stdout DIR/NAME.out, stderr DIR/NAME.err, pid DIR/NAME.pid); its first
# line on stdout is the port it listens on, put in _TUNNEL_DAEMON_PORT.
_tunnel_daemon_start() {
	local dir=$1 name=$2 pid port="" i
	shift 2
	mkdir -p "$dir"
	"$@" </dev/null >"$dir/$name.out" 2>"$dir/$name.err" 3>&- &
	pid=$!
	echo "$pid" >"$dir/$name.pid"
	for ((i = 0; i < 100; i++)); do
		read -r port <"$dir/$name.out" || true
		[[ -n $port ]] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if [[ ! $port =~ ^[0-9]+$ ]] || ! sb_port_in_use "$port"; then
		echo "$name does not listen after 10 s: $(tail -n 3 "$dir/$name.err")" >&2
		_tunnel_daemon_stop "$dir" "$name"
		return 1
	fi
	_TUNNEL_DAEMON_PORT=$port
}

# _tunnel_daemon_stop DIR NAME: stops the process whose pid is in DIR/NAME.pid
# (what _tunnel_daemon_start started, or nginx).
_tunnel_daemon_stop() {
	local dir=$1 name=$2 pid i
	[[ -s $dir/$name.pid ]] || return 0
	pid=$(<"$dir/$name.pid")
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	rm -f "$dir/$name.pid"
}

tunnel_proxy_start() {
	local dir=$1
	shift
	[[ -x /usr/bin/python3 ]] || {
		echo "tunnel_proxy_start: needs /usr/bin/python3" >&2
		return 1
	}
	mkdir -p "$dir"
	: >"$dir/connect.log"
	_tunnel_daemon_start "$dir" connect_proxy \
		/usr/bin/python3 "$TUNNEL_CONNECT_PROXY" --log "$dir/connect.log" "$@" || return 1
	TUNNEL_PROXY_PORT=$_TUNNEL_DAEMON_PORT
	export TUNNEL_PROXY_PORT
}

tunnel_proxy_stop() { _tunnel_daemon_stop "$1" connect_proxy; }

tunnel_hub_start() {
	local dir=$1 user=$2 token=$3
	command -v node >/dev/null || {
		echo "tunnel_hub_start: needs node (nodejs)" >&2
		return 1
	}
	[[ -d $TUNNEL_NODE_PATH/http-proxy ]] || {
		echo "tunnel_hub_start: needs node-http-proxy in $TUNNEL_NODE_PATH" >&2
		return 1
	}
	tunnel_make_ca "$dir" || return 1
	NODE_PATH=$TUNNEL_NODE_PATH _tunnel_daemon_start "$dir" hub_proxy node "$TUNNEL_HUB_PROXY" \
		--cert "$dir/server.pem" --key "$dir/server.key" --user "$user" --token "$token" || return 1
	TUNNEL_HUB_PORT=$_TUNNEL_DAEMON_PORT
	export TUNNEL_HUB_PORT
}

tunnel_hub_stop() { _tunnel_daemon_stop "$1" hub_proxy; }
