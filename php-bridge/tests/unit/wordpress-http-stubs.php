<?php
/**
 * Stand-ins for the few WordPress functions the status client calls (transients, filters, the HTTP
 * API), recording every request. Loaded by StatusClientTest only; the pure classes call none of them.
 *
 * The fake wp_safe_remote_get() asks the two filters wp_http_validate_url() asks, the way it asks
 * them, and records their answers: whether the requested host would pass as "external" and which
 * ports are allowed, and the same for another private host, at the moment of the request.
 */

/**
 * What the fake WordPress saw.
 */
final class Grb_Fake_WordPress {

	/** @var array<string,mixed> */
	public static $transients = array();

	/** @var array<string,mixed> Network-wide transients (multisite). */
	public static $site_transients = array();

	/** @var bool What is_multisite() answers. */
	public static $multisite = false;

	/** @var array<string,array<int,array{0:callable,1:int}>> hook => callbacks with their accepted args */
	public static $filters = array();

	/** @var array<int,array<string,mixed>> function, url, args, host_allowed, ports, other_host_allowed */
	public static $requests = array();

	/** @var callable url => response array or WP_Error */
	public static $answer;

	public static function reset() {
		self::$transients      = array();
		self::$site_transients = array();
		self::$multisite       = false;
		self::$filters         = array();
		self::$requests   = array();
		self::$answer     = static function ( $url ) {
			$path = (string) parse_url( $url, PHP_URL_PATH );
			$body = '/api/status' === $path ? file_get_contents( dirname( __DIR__ ) . '/fixtures/status-ok.json' ) : '[]';
			return array( 'response' => array( 'code' => 200 ), 'body' => $body );
		};
	}

	/**
	 * @param string $function wp_safe_remote_get or wp_remote_get.
	 * @param string $url      URL.
	 * @param array  $args     Request arguments.
	 * @return mixed
	 */
	public static function request( $function, $url, array $args ) {
		$host             = trim( (string) parse_url( $url, PHP_URL_HOST ), '.' );
		self::$requests[] = array(
			'function'           => $function,
			'url'                => $url,
			'args'               => $args,
			'host_allowed'       => apply_filters( 'http_request_host_is_external', false, $host, $url ),
			'ports'              => apply_filters( 'http_allowed_safe_ports', array( 80, 443, 8080 ), $host, $url ),
			'other_host_allowed' => apply_filters( 'http_request_host_is_external', false, '10.9.8.7', 'http://10.9.8.7:8025/api/status' ),
			'other_host_ports'   => apply_filters( 'http_allowed_safe_ports', array( 80, 443, 8080 ), '10.9.8.7', 'http://10.9.8.7:8025/api/status' ),
		);
		return call_user_func( self::$answer, $url );
	}
}

class WP_Error {
	private $message;

	public function __construct( $code = '', $message = '' ) {
		$this->message = $message;
	}

	public function get_error_message() {
		return $this->message;
	}
}

function is_wp_error( $thing ) {
	return $thing instanceof WP_Error;
}

function get_transient( $name ) {
	return array_key_exists( $name, Grb_Fake_WordPress::$transients ) ? Grb_Fake_WordPress::$transients[ $name ] : false;
}

function set_transient( $name, $value, $expiration = 0 ) {
	Grb_Fake_WordPress::$transients[ $name ] = $value;
	return true;
}

function delete_transient( $name ) {
	unset( Grb_Fake_WordPress::$transients[ $name ] );
	return true;
}

function is_multisite() {
	return Grb_Fake_WordPress::$multisite;
}

function get_site_transient( $name ) {
	return array_key_exists( $name, Grb_Fake_WordPress::$site_transients ) ? Grb_Fake_WordPress::$site_transients[ $name ] : false;
}

function set_site_transient( $name, $value, $expiration = 0 ) {
	Grb_Fake_WordPress::$site_transients[ $name ] = $value;
	return true;
}

function delete_site_transient( $name ) {
	unset( Grb_Fake_WordPress::$site_transients[ $name ] );
	return true;
}

function add_filter( $hook, $callback, $priority = 10, $accepted_args = 1 ) {
	Grb_Fake_WordPress::$filters[ $hook ][] = array( $callback, $accepted_args );
	return true;
}

function remove_filter( $hook, $callback, $priority = 10 ) {
	foreach ( isset( Grb_Fake_WordPress::$filters[ $hook ] ) ? Grb_Fake_WordPress::$filters[ $hook ] : array() as $i => $entry ) {
		if ( $entry[0] === $callback ) {
			unset( Grb_Fake_WordPress::$filters[ $hook ][ $i ] );
			if ( array() === Grb_Fake_WordPress::$filters[ $hook ] ) {
				unset( Grb_Fake_WordPress::$filters[ $hook ] );
			}
			return true;
		}
	}
	return false;
}

function apply_filters( $hook, $value, ...$args ) {
	foreach ( isset( Grb_Fake_WordPress::$filters[ $hook ] ) ? Grb_Fake_WordPress::$filters[ $hook ] : array() as $entry ) {
		$value = call_user_func_array( $entry[0], array_slice( array_merge( array( $value ), $args ), 0, $entry[1] ) );
	}
	return $value;
}

function wp_parse_url( $url, $component = -1 ) {
	return parse_url( $url, $component );
}

function wp_safe_remote_get( $url, $args = array() ) {
	return Grb_Fake_WordPress::request( 'wp_safe_remote_get', $url, $args );
}

function wp_remote_get( $url, $args = array() ) {
	return Grb_Fake_WordPress::request( 'wp_remote_get', $url, $args );
}

function wp_remote_retrieve_response_code( $response ) {
	return is_array( $response ) ? $response['response']['code'] : '';
}

function wp_remote_retrieve_body( $response ) {
	return is_array( $response ) ? $response['body'] : '';
}
