<?php
// Drives the test's real WordPress from php-cli: php wp_driver.php SITE_DIR COMMAND '<json args>'.
// Loads WordPress through SITE_DIR/wp-load.php (the site's own wp-config.php), runs COMMAND and
// prints one line of JSON. Anything else on stdout (a PHP notice under WP_DEBUG) breaks the JSON,
// which the test reports as such.

if ( $argc < 3 ) {
	fwrite( STDERR, "usage: wp_driver.php SITE_DIR COMMAND [JSON]\n" );
	exit( 2 );
}
$site    = rtrim( $argv[1], '/' );
$command = $argv[2];
$args    = isset( $argv[3] ) ? json_decode( $argv[3], true, 512, JSON_THROW_ON_ERROR ) : array();

// What a web request would have; wp-config.php reads the site URL from its own constants.
$site_url               = trim( file_get_contents( $site . '/site-url' ) );
$_SERVER['HTTP_HOST']   = parse_url( $site_url, PHP_URL_HOST ) . ':' . parse_url( $site_url, PHP_URL_PORT );
// On a network, the path picks the site (a subdirectory install: /shop/ is the site "shop").
$_SERVER['REQUEST_URI']    = isset( $args['path'] ) ? $args['path'] : '/';
$_SERVER['REQUEST_METHOD'] = 'GET';
$_SERVER['SERVER_NAME'] = 'localhost';
$_SERVER['REMOTE_ADDR'] = '127.0.0.1';

if ( 'install' === $command ) {
	define( 'WP_INSTALLING', true );
}
if ( 'install_network' === $command ) {
	define( 'WP_INSTALLING_NETWORK', true ); // As wp-admin/network.php: $wpdb then knows the network tables.
}
if ( ! empty( $args['admin'] ) ) {
	define( 'WP_ADMIN', true ); // is_admin(): the plugin registers its admin hooks.
}

require $site . '/wp-load.php';

/**
 * @param mixed $value Printed as the command's result.
 */
function grb_out( $value ) {
	echo json_encode( $value, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE | JSON_THROW_ON_ERROR ), "\n";
}

/**
 * The administrator made by install (or the user named by the command's "login"), as the current user.
 */
function grb_be_admin() {
	global $args;
	$login = isset( $args['login'] ) ? $args['login'] : 'admin';
	$user  = get_user_by( 'login', $login );
	if ( ! $user ) {
		// An editor for the capability checks: may edit everything, may not manage options.
		$id   = wp_insert_user( array( 'user_login' => $login, 'user_pass' => wp_generate_password(), 'user_email' => $login . '@example.com', 'role' => 'editor' ) );
		$user = get_user_by( 'id', $id );
	}
	wp_set_current_user( $user->ID );
	return $user;
}

switch ( $command ) {
	case 'install':
		require_once ABSPATH . 'wp-admin/includes/upgrade.php';
		$result = wp_install( $args['title'], 'admin', $args['admin_email'], false, '', $args['admin_password'] );
		if ( ! empty( $args['url'] ) ) {
			// Without WP_HOME/WP_SITEURL (a network: they would be every site's), php-cli cannot guess it.
			update_option( 'siteurl', $args['url'] );
			update_option( 'home', $args['url'] );
		}
		grb_out( array( 'user_id' => $result['user_id'] ) );
		break;

	case 'install_network':
		// What Tools -> Network Setup does (WP_ALLOW_MULTISITE): the network tables and the network.
		require_once ABSPATH . 'wp-admin/includes/upgrade.php';
		global $wpdb;
		foreach ( $wpdb->tables( 'ms_global' ) as $table => $prefixed_table ) {
			$wpdb->$table = $prefixed_table; // As wp-admin/network.php does before the network exists.
		}
		install_network();
		$result = populate_network( 1, $args['domain'], $args['admin_email'], $args['title'], '/', false );
		grb_out( array( 'error' => is_wp_error( $result ) ? $result->get_error_message() : null ) );
		break;

	case 'add_site':
		$user = get_user_by( 'login', 'admin' );
		// wp_insert_site(), as Sites -> Add New ends up calling (wpmu_create_blog() would drop the port's colon).
		$id = wp_insert_site(
			array(
				'domain'  => get_network()->domain,
				'path'    => $args['site_path'],
				'title'   => $args['title'],
				'user_id' => $user->ID,
			)
		);
		if ( ! is_wp_error( $id ) ) {
			// WordPress drops the colon of a domain with a port (networks are meant for ports 80 and
			// 443); the test network runs on php -S's port, so the site gets the network's domain back.
			global $wpdb;
			$domain = get_network()->domain;
			$wpdb->update( $wpdb->blogs, array( 'domain' => $domain ), array( 'blog_id' => $id ) );
			clean_blog_cache( $id );
			$url = untrailingslashit( 'http://' . $domain . $args['site_path'] );
			update_blog_option( $id, 'home', $url );
			update_blog_option( $id, 'siteurl', $url );
		}
		grb_out(
			array(
				'error' => is_wp_error( $id ) ? $id->get_error_message() : null,
				'id'    => is_wp_error( $id ) ? null : $id,
				'home'  => is_wp_error( $id ) ? null : get_home_url( $id ),
			)
		);
		break;

	case 'install_zip':
		// Plugins -> Add New -> Upload Plugin: WordPress's own upgrader unpacks the zip into wp-content/plugins.
		grb_be_admin();
		require_once ABSPATH . 'wp-admin/includes/admin.php';
		require_once ABSPATH . 'wp-admin/includes/class-wp-upgrader.php';
		// The test site makes no requests to wordpress.org (they are blocked and WordPress warns).
		remove_action( 'upgrader_process_complete', array( 'Language_Pack_Upgrader', 'async_upgrade' ), 20 );
		remove_action( 'upgrader_process_complete', 'wp_version_check' );
		remove_action( 'upgrader_process_complete', 'wp_update_plugins' );
		remove_action( 'upgrader_process_complete', 'wp_update_themes' );
		$skin     = new Automatic_Upgrader_Skin();
		$upgrader = new Plugin_Upgrader( $skin );
		$result   = $upgrader->install( $args['zip'] );
		grb_out(
			array(
				'error'    => is_wp_error( $result ) ? $result->get_error_message() : ( true === $result ? null : 'install returned ' . var_export( $result, true ) ),
				'plugin'   => $upgrader->plugin_info(),
				'messages' => $skin->get_upgrade_messages(),
			)
		);
		break;

	case 'site_option':
		// A network option as stored in wp_sitemeta.
		grb_out( get_site_option( $args['name'], null ) );
		break;

	case 'test_email':
		// The Tools page's test email button, on the site the path picks.
		grb_be_admin();
		grb_out( Gmail_Relay_Bridge_Plugin::instance()->send_test_email( $args['to'] ) );
		break;

	case 'activate':
		require_once ABSPATH . 'wp-admin/includes/plugin.php';
		$result = activate_plugin( $args['plugin'], '', ! empty( $args['network'] ) );
		grb_out(
			array(
				'error'  => is_wp_error( $result ) ? $result->get_error_message() : null,
				'active' => is_plugin_active( $args['plugin'] ),
			)
		);
		break;

	case 'deactivate':
		require_once ABSPATH . 'wp-admin/includes/plugin.php';
		deactivate_plugins( $args['plugin'] );
		grb_out( array( 'active' => is_plugin_active( $args['plugin'] ) ) );
		break;

	case 'mail':
		// wp_mail() exactly as a plugin calls it; reports what the bridge saw.
		global $phpmailer;
		$failure = null;
		add_action(
			'wp_mail_failed',
			static function ( $error ) use ( &$failure ) {
				$failure = $error->get_error_message();
			}
		);
		if ( ! empty( $args['from_filter'] ) ) {
			// Another plugin choosing a From on purpose.
			add_filter(
				'wp_mail_from',
				static function () use ( $args ) {
					return $args['from_filter'];
				}
			);
		}
		if ( ! empty( $args['fallback_sendmail'] ) ) {
			// When the bridge does not route the message, WordPress falls back to PHP's mail(); the
			// test gives it a stand-in sendmail instead of the machine's.
			add_action(
				'phpmailer_init',
				static function ( $mailer ) use ( $args ) {
					if ( 'mail' === $mailer->Mailer ) {
						$mailer->Mailer   = 'sendmail';
						$mailer->Sendmail = $args['fallback_sendmail'];
					}
				},
				1000
			);
		}
		$transcript = array();
		if ( ! empty( $args['transcript'] ) ) {
			// PHPMailer's own debug output (client lines included), to see whether STARTTLS was sent.
			add_action(
				'phpmailer_init',
				static function ( $mailer ) use ( &$transcript ) {
					$mailer->SMTPDebug   = 3;
					$mailer->Debugoutput = static function ( $line ) use ( &$transcript ) {
						$transcript[] = trim( $line );
					};
				},
				20
			);
		}
		$ok = wp_mail( $args['to'], $args['subject'], $args['message'], isset( $args['headers'] ) ? $args['headers'] : array(), isset( $args['attachments'] ) ? $args['attachments'] : array() );
		$smtp = is_object( $phpmailer ) ? $phpmailer->getSMTPInstance() : null;
		grb_out(
			array(
				'ok'           => $ok,
				'failure'      => $failure,
				'mailer'       => is_object( $phpmailer ) ? $phpmailer->Mailer : null,
				'host'         => is_object( $phpmailer ) ? $phpmailer->Host : null,
				'port'         => is_object( $phpmailer ) ? $phpmailer->Port : null,
				'password_set' => is_object( $phpmailer ) ? '' !== $phpmailer->Password : null,
				'from'         => is_object( $phpmailer ) ? $phpmailer->From : null,
				'sender'       => is_object( $phpmailer ) ? $phpmailer->Sender : null,
				'auto_tls'     => is_object( $phpmailer ) ? $phpmailer->SMTPAutoTLS : null,
				'reply'        => Gmail_Relay_Bridge_Plugin::instance()->last_message_reply(),
				'message_id'   => is_object( $phpmailer ) ? $phpmailer->getLastMessageID() : null,
				'last_reply'   => get_option( 'gmail_relay_bridge_last_reply' ),
				'last_failure' => get_option( 'gmail_relay_bridge_last_failure' ),
				'transcript'   => $transcript,
				'smtp_class'   => is_object( $smtp ) ? get_class( $smtp ) : null,
			)
		);
		break;

	case 'widget':
		// The dashboard as an administrator: wp_dashboard_setup() registers the widgets, then the
		// bridge's widget callback renders; the admin notices are rendered the same way.
		grb_be_admin();
		require_once ABSPATH . 'wp-admin/includes/admin.php';
		require_once ABSPATH . 'wp-admin/includes/dashboard.php';
		set_current_screen( 'dashboard' );
		if ( ! empty( $args['fresh'] ) ) {
			delete_transient( 'gmail_relay_bridge_status' );
		}
		wp_dashboard_setup();
		global $wp_meta_boxes;
		$box = isset( $wp_meta_boxes['dashboard']['normal']['core']['gmail_relay_bridge_status'] ) ? $wp_meta_boxes['dashboard']['normal']['core']['gmail_relay_bridge_status'] : null;
		$started = microtime( true );
		ob_start();
		if ( $box ) {
			call_user_func( $box['callback'], '', $box );
		}
		$widget = ob_get_clean();
		ob_start();
		do_action( 'admin_notices' );
		$notices = ob_get_clean();
		grb_out(
			array(
				'registered' => null !== $box,
				'title'      => $box ? $box['title'] : null,
				'widget'     => $widget,
				'notices'    => $notices,
				'seconds'    => microtime( true ) - $started,
			)
		);
		break;

	case 'page':
		// An admin page's callback as WordPress calls it (hook such as tools_page_gmail-relay-bridge).
		grb_be_admin();
		require_once ABSPATH . 'wp-admin/includes/admin.php';
		require_once ABSPATH . 'wp-admin/menu.php'; // builds the menus and runs admin_menu, as wp-admin does
		set_current_screen( $args['screen'] );
		ob_start();
		do_action( 'admin_notices' );
		$notices = ob_get_clean();
		ob_start();
		do_action( $args['hook'] );
		grb_out(
			array(
				'html'    => ob_get_clean(),
				'notices' => $notices,
			)
		);
		break;

	case 'save_settings':
		// What options.php does with the settings form: the registered sanitiser runs.
		grb_be_admin();
		do_action( 'admin_init' );
		update_option( 'gmail_relay_bridge_settings', $args['input'] );
		grb_out(
			array(
				'stored' => get_option( 'gmail_relay_bridge_settings' ),
				'errors' => get_settings_errors( 'gmail_relay_bridge_settings' ),
			)
		);
		break;

	case 'set_option':
		if ( null === $args['value'] ) {
			delete_option( $args['name'] );
		} else {
			update_option( $args['name'], $args['value'] );
		}
		grb_out( array( 'ok' => true ) );
		break;

	case 'uninstall':
		require_once ABSPATH . 'wp-admin/includes/plugin.php';
		deactivate_plugins( $args['plugin'] );
		uninstall_plugin( $args['plugin'] );
		global $wpdb;
		$left = array( 'left' => $wpdb->get_col( "SELECT option_name FROM {$wpdb->options} WHERE option_name LIKE '%gmail_relay_bridge%'" ) );
		if ( is_multisite() ) {
			$left['left_network'] = $wpdb->get_col( "SELECT meta_key FROM {$wpdb->sitemeta} WHERE meta_key LIKE '%gmail_relay_bridge%'" );
			foreach ( get_sites( array( 'fields' => 'ids' ) ) as $site_id ) {
				$left['left_sites'][ $site_id ] = $wpdb->get_col( 'SELECT option_name FROM ' . $wpdb->get_blog_prefix( $site_id ) . "options WHERE option_name LIKE '%gmail_relay_bridge%'" );
			}
		}
		grb_out( $left );
		break;

	case 'set_site_option':
		if ( null === $args['value'] ) {
			delete_site_option( $args['name'] );
		} else {
			update_site_option( $args['name'], $args['value'] );
		}
		grb_out( array( 'ok' => true ) );
		break;

	case 'options_like':
		global $wpdb;
		grb_out( $wpdb->get_results( $wpdb->prepare( "SELECT option_name, option_value FROM {$wpdb->options} WHERE option_name LIKE %s", '%' . $wpdb->esc_like( $args['like'] ) . '%' ), ARRAY_A ) );
		break;

	default:
		fwrite( STDERR, "unknown command $command\n" );
		exit( 2 );
}
